/** Sign in: POST /api/session sets the session cookie and answers the CSRF token. */
import { useState, type SyntheticEvent, type ReactNode } from 'react';
import { errorText, signIn } from '../api.js';
import { Notice } from '../components.js';
import type { Session } from '../types.js';

export function SignIn({ onSignedIn, failure }: { onSignedIn: (s: Session) => void; failure: string | null }): ReactNode {
  const [user, setUser] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(failure);
  const [busy, setBusy] = useState(false);
  const submit = async (e: SyntheticEvent): Promise<void> => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      onSignedIn(await signIn(user, password));
    } catch (err) {
      setError(errorText(err));
      setPassword('');
    } finally {
      setBusy(false);
    }
  };
  return (
    <main className="signin" id="main">
      <form className="card signin-card" onSubmit={(e) => { void submit(e); }} aria-labelledby="signin-title">
        <h1 id="signin-title">Tandem</h1>
        <p className="muted">Sign in to this node's console.</p>
        <label htmlFor="user">User name</label>
        <input id="user" name="user" autoComplete="username" autoFocus required value={user} onChange={(e) => { setUser(e.target.value); }} />
        <label htmlFor="password">Password</label>
        <input id="password" name="password" type="password" autoComplete="current-password" required value={password} onChange={(e) => { setPassword(e.target.value); }} />
        {error !== null && <Notice tone="bad" testId="signin-error">{error}</Notice>}
        <button type="submit" className="primary" disabled={busy}>{busy ? 'Signing in…' : 'Sign in'}</button>
        <p className="muted small">No user yet? On the primary: <code>tandem user add NAME --role admin</code></p>
      </form>
    </main>
  );
}
