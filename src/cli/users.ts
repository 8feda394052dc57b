/**
 * `tandem user add | list | passwd | delete | token | tokens | revoke` and `tandem audit`: who may
 * sign in to the HTTPS API and the web console, the API tokens of scripts, and the audit log of
 * changes. Passwords come from a prompt (not echoed) or from --password-file, never from argv.
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { Option } from 'commander';
import type { ActionReply } from '../adapters/control/protocol.js';
import { callOp, fail, print, withTarget, type Target } from './common.js';

type Json = { json?: boolean };

async function password(file: string | undefined, prompt: string): Promise<string> {
  if (file !== undefined) {
    try {
      return readFileSync(file, 'utf8').replace(/\r?\n$/, '');
    } catch (err) {
      fail(`cannot read ${file}: ${(err as Error).message}`);
    }
  }
  if (!process.stdin.isTTY) fail('no terminal to ask for the password: give --password-file FILE');
  const first = await ask(`${prompt}: `);
  const again = await ask('again: ');
  if (first !== again) fail('the two passwords differ');
  return first;
}

/** Reads one line from the terminal without echoing it. */
function ask(question: string): Promise<string> {
  return new Promise((resolve) => {
    process.stderr.write(question);
    const stdin = process.stdin;
    stdin.setRawMode(true);
    stdin.resume();
    let text = '';
    const onData = (b: Buffer): void => {
      for (const ch of b.toString('utf8')) {
        if (ch === '\r' || ch === '\n') {
          stdin.setRawMode(false);
          stdin.pause();
          stdin.off('data', onData);
          process.stderr.write('\n');
          resolve(text);
          return;
        }
        if (ch === '\u0003') process.exit(130);
        if (ch === '\u007f') text = text.slice(0, -1); else text += ch;
      }
    };
    stdin.on('data', onData);
  });
}

const reply = async (t: Target & Json, method: 'POST' | 'PUT' | 'DELETE', path: string, body?: unknown): Promise<void> => {
  const r = (await callOp(t, method, path, { body })).body as ActionReply;
  print(t.json, r, () => r.messages.join('\n'));
};

export function registerUserCommands(program: Command): void {
  const user = program.command('user').description('who may sign in to the HTTPS API and the web console; API tokens');
  withTarget(user.command('add <name>'))
    .description('add a user; the password from a prompt or --password-file')
    .addOption(new Option('--role <role>', 'admin: may change everything; viewer: may read everything').choices(['admin', 'viewer']).makeOptionMandatory())
    .option('--password-file <file>', 'read the password from this file (its first line)')
    .option('--json', 'machine-readable output')
    .action(async (name: string, t: Target & Json & { role: string; passwordFile?: string }) => {
      await reply(t, 'POST', '/users', { name, role: t.role, password: await password(t.passwordFile, `password for ${name}`) });
    });
  withTarget(user.command('list'))
    .description('the users and their roles')
    .option('--json', 'machine-readable output')
    .action(async (t: Target & Json) => {
      const r = (await callOp(t, 'GET', '/users')).body as { users: { name: string; role: string; created: string; tokens: number }[] };
      print(t.json, r, () => (r.users.length === 0 ? 'no users (tandem user add NAME --role admin)' : r.users.map((u) => `${u.name.padEnd(16)} ${u.role.padEnd(7)} since ${u.created}, ${String(u.tokens)} token(s)`).join('\n')));
    });
  withTarget(user.command('passwd <name>'))
    .description("set a user's password")
    .option('--password-file <file>', 'read the password from this file (its first line)')
    .option('--json', 'machine-readable output')
    .action(async (name: string, t: Target & Json & { passwordFile?: string }) => {
      await reply(t, 'PUT', `/users/${encodeURIComponent(name)}/password`, { password: await password(t.passwordFile, `new password for ${name}`) });
    });
  withTarget(user.command('delete <name>'))
    .description('delete a user and their API tokens')
    .option('--json', 'machine-readable output')
    .action(async (name: string, t: Target & Json) => { await reply(t, 'DELETE', `/users/${encodeURIComponent(name)}`); });
  withTarget(user.command('token <name>'))
    .description('a new API token for a user (printed once: scripts send it as --token or Authorization: Bearer)')
    .option('--label <text>', 'what the token is for', '')
    .option('--json', 'machine-readable output')
    .action(async (name: string, t: Target & Json & { label: string }) => {
      const r = (await callOp(t, 'POST', `/users/${encodeURIComponent(name)}/tokens`, { body: { label: t.label } })).body as { token: string; id: string };
      print(t.json, r, () => r.token);
    });
  withTarget(user.command('tokens'))
    .description('the API tokens (never their secrets)')
    .option('--json', 'machine-readable output')
    .action(async (t: Target & Json) => {
      const r = (await callOp(t, 'GET', '/tokens')).body as { tokens: { id: string; user: string; label: string; created: string }[] };
      print(t.json, r, () => r.tokens.map((x) => `${x.id}  ${x.user.padEnd(16)} ${x.created}  ${x.label}`).join('\n'));
    });
  withTarget(user.command('revoke <id>'))
    .description('revoke an API token')
    .option('--json', 'machine-readable output')
    .action(async (id: string, t: Target & Json) => { await reply(t, 'DELETE', `/tokens/${encodeURIComponent(id)}`); });

  withTarget(program.command('audit'))
    .description('the audit log: every change, who made it and from where')
    .option('--limit <n>', 'the last N entries', (v) => Number.parseInt(v, 10), 50)
    .option('--json', 'machine-readable output')
    .action(async (t: Target & Json & { limit: number }) => {
      const r = (await callOp(t, 'GET', `/audit?limit=${String(t.limit)}`)).body as { entries: { time: string; user: string; from: string; op: string; ok: boolean; detail: string }[] };
      print(t.json, r, () => r.entries.map((e) => `${e.time} ${e.user} (${e.from}) ${e.op} ${e.ok ? 'ok' : `REFUSED: ${e.detail}`}`).join('\n'));
    });
}
