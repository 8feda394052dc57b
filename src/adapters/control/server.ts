import { chmodSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { ControlAction, type ActionReply } from './protocol.js';

export interface ControlHandlers {
  status(): unknown;
  action(action: ControlAction): ActionReply | Promise<ActionReply>;
}

const MAX_BODY = 64 * 1024;

/** Serves the control protocol on a unix socket; a stale socket file from a crash is replaced. */
export async function startControlServer(socketPath: string, handlers: ControlHandlers): Promise<Server> {
  rmSync(socketPath, { force: true });
  const server = createServer((req, res) => { void handle(req, res, handlers); });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => { server.off('error', reject); resolve(); });
  });
  chmodSync(socketPath, 0o600);
  return server;
}

async function handle(req: IncomingMessage, res: ServerResponse, handlers: ControlHandlers): Promise<void> {
  const reply = (code: number, body: unknown): void => {
    res.writeHead(code, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  try {
    if (req.method === 'GET' && req.url === '/status') { reply(200, handlers.status()); return; }
    if (req.method === 'POST' && req.url === '/action') {
      const body = await readBody(req);
      let json: unknown;
      try { json = JSON.parse(body); } catch { reply(400, { ok: false, messages: ['the request body is not JSON'] }); return; }
      const parsed = ControlAction.safeParse(json);
      if (!parsed.success) {
        reply(400, { ok: false, messages: parsed.error.issues.map((i) => `${i.path.join('.') || 'action'}: ${i.message}`) });
        return;
      }
      reply(200, await handlers.action(parsed.data));
      return;
    }
    reply(404, { ok: false, messages: [`no such endpoint: ${req.method ?? ''} ${req.url ?? ''}`] });
  } catch (err) {
    reply(500, { ok: false, messages: [(err as Error).message] });
  }
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let size = 0;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) { reject(new Error('request body too large')); req.destroy(); return; }
      chunks.push(c);
    });
    req.on('end', () => { resolve(Buffer.concat(chunks).toString('utf8')); });
    req.on('error', reject);
  });
}
