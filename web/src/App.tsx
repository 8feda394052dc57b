/**
 * The console's frame: sign-in, the navigation with the appliance's page names, the header
 * (cluster, this node's role, live connection, This node / Other node, the user), and the page.
 */
import { useEffect, useState, type ReactNode } from 'react';
import { currentSession, errorText, signOut, whenSignedOut } from './api.js';
import { Badge, clusterTone, Link, roleTone } from './components.js';
import { ConsoleContext, type Side } from './context.js';
import { useLive } from './live.js';
import { navigate, usePath } from './router.js';
import type { Session } from './types.js';
import { SignIn } from './pages/SignIn.js';
import { Monitor } from './pages/Monitor.js';
import { HighAvailability } from './pages/HighAvailability.js';
import { Firmwares } from './pages/Firmwares.js';
import { VersionDetails } from './pages/VersionDetails.js';
import { SystemControl } from './pages/SystemControl.js';
import { ConfigBackup } from './pages/ConfigBackup.js';
import { CoreFiles } from './pages/CoreFiles.js';
import { License } from './pages/License.js';

interface PageDef { readonly path: string; readonly title: string; readonly group: string | null; readonly render: () => ReactNode }

export const PAGES: readonly PageDef[] = [
  { path: '/', title: 'System Monitor', group: null, render: () => <Monitor /> },
  { path: '/ha', title: 'High Availability', group: 'Basic Settings', render: () => <HighAvailability /> },
  { path: '/firmware', title: 'Firmwares', group: 'Basic Settings > System', render: () => <Firmwares /> },
  { path: '/version', title: 'Version details', group: 'Basic Settings > System', render: () => <VersionDetails /> },
  { path: '/license', title: 'License', group: 'Basic Settings > System', render: () => <License /> },
  { path: '/config', title: 'Export / Import configuration', group: 'Basic Settings > System', render: () => <ConfigBackup /> },
  { path: '/system', title: 'System control', group: 'Basic Settings > System', render: () => <SystemControl /> },
  { path: '/cores', title: 'Core files', group: 'Troubleshooting', render: () => <CoreFiles /> },
];

export function App(): ReactNode {
  const [session, setSession] = useState<Session | null | undefined>(undefined);
  const [failure, setFailure] = useState<string | null>(null);
  useEffect(() => {
    // A request refused for want of a session: it ended (idle, signed out elsewhere) or the node
    // restarted (a reboot, a firmware upgrade): sessions live in the node's memory only.
    whenSignedOut(() => { setFailure('Your session has ended (or the node restarted): sign in again.'); setSession(null); });
    currentSession().then(setSession, (err: unknown) => { setFailure(errorText(err)); setSession(null); });
  }, []);
  if (session === undefined) return <p className="loading">Loading…</p>;
  if (session === null) return <SignIn failure={failure} onSignedIn={setSession} />;
  return <Frame session={session} onSignedOut={() => { setSession(null); }} />;
}

function Frame({ session, onSignedOut }: { session: Session; onSignedOut: () => void }): ReactNode {
  const live = useLive(true);
  const path = usePath();
  const [side, setSide] = useState<Side>('this');
  const [menu, setMenu] = useState(false);
  const page = PAGES.find((p) => p.path === path);
  const s = live.status;
  useEffect(() => {
    document.title = `${page?.title ?? 'Not found'} · ${s?.this_node.name ?? 'Tandem'}`;
  }, [page, s?.this_node.name]);
  useEffect(() => { setMenu(false); }, [path]);

  const groups = [...new Set(PAGES.map((p) => p.group))];
  return (
    <ConsoleContext.Provider value={{ session, live, readOnly: session.role === 'viewer', side, setSide }}>
      <a className="skip" href="#main">Skip to content</a>
      <header className="top">
        <button type="button" className="menu-toggle" aria-expanded={menu} aria-controls="nav" onClick={() => { setMenu(!menu); }}>Menu</button>
        <Link to="/" className="brand">Tandem</Link>
        <span className="top-item" data-testid="cluster-name">{s === null ? '…' : s.cluster.name}</span>
        {s !== null && <Badge tone={clusterTone(s.cluster.status)} label="cluster-status">{s.cluster.status}</Badge>}
        {s !== null && <span className="top-item">{s.this_node.name}: <Badge tone={roleTone(s.this_node.role)} label="header-role">{s.this_node.role}</Badge></span>}
        <span className={`conn ${live.connection}`} data-testid="connection" title="live updates (server-sent events)">{live.connection === 'live' ? '● live' : live.connection === 'lost' ? '○ reconnecting' : '○ connecting'}</span>
        <span className="spacer" />
        <span className="top-item">{session.user} ({session.role})</span>
        <button type="button" onClick={() => { void signOut().finally(onSignedOut); }}>Sign out</button>
      </header>
      <div className="layout">
        <nav id="nav" className={menu ? 'nav open' : 'nav'} aria-label="Pages">
          {groups.map((g) => (
            <div key={g ?? 'top'} className="nav-group">
              {g !== null && <div className="nav-group-title">{g}</div>}
              <ul>
                {PAGES.filter((p) => p.group === g).map((p) => (
                  <li key={p.path}>
                    <Link to={p.path} className={p.path === path ? 'current' : ''}>{p.title}</Link>
                  </li>
                ))}
              </ul>
            </div>
          ))}
        </nav>
        <main id="main" tabIndex={-1}>
          <div className="crumbs" aria-label="Where you are">{page === undefined ? '' : [page.group, page.title].filter((x) => x !== null).join(' > ')}</div>
          {page === undefined
            ? <><h1>Not found</h1><p>No page at {path}. <button type="button" onClick={() => { navigate('/'); }}>Go to the System Monitor</button></p></>
            : page.render()}
        </main>
      </div>
    </ConsoleContext.Provider>
  );
}
