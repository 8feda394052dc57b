/**
 * Talking to the node that served the console: JSON requests with the session cookie (sent by
 * the browser, HttpOnly) and, on every change, the session's CSRF token in X-CSRF-Token (the
 * protocol of src/app/api/auth.ts); NDJSON progress streams; uploads with progress (XHR).
 */
import type { Session } from './types.js';

export const CSRF_HEADER = 'x-csrf-token';

/** A refusal from the API: its HTTP status and the messages it gave. */
export class ApiError extends Error {
  constructor(readonly status: number, readonly messages: readonly string[], readonly body: unknown = null) {
    super(messages.join('; '));
    this.name = 'ApiError';
  }
}

let csrf = '';
let onSignedOut: () => void = () => undefined;

export function setSession(s: Session | null): void { csrf = s?.csrf ?? ''; }
export function whenSignedOut(f: () => void): void { onSignedOut = f; }

function messagesOf(body: unknown, fallback: string): string[] {
  if (typeof body === 'object' && body !== null && Array.isArray((body as { messages?: unknown }).messages)) {
    return (body as { messages: unknown[] }).messages.map(String);
  }
  return [fallback];
}

async function parse(res: Response): Promise<unknown> {
  const text = await res.text();
  if (text === '') return null;
  try { return JSON.parse(text) as unknown; } catch { return text; }
}

/** A JSON request; a refusal (any status ≥ 400) throws ApiError. A 401 also reports the sign-out. */
export async function api<T>(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (method !== 'GET') headers[CSRF_HEADER] = csrf;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(path, { method, headers, credentials: 'same-origin', ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  const data = await parse(res);
  if (!res.ok) {
    if (res.status === 401 && path !== '/api/session') onSignedOut();
    throw new ApiError(res.status, messagesOf(data, `${String(res.status)} ${res.statusText}`), data);
  }
  return data as T;
}

export const get = <T>(path: string): Promise<T> => api<T>('GET', path);

export async function signIn(user: string, password: string): Promise<Session> {
  const s = await api<Session>('POST', '/api/session', { user, password });
  setSession(s);
  return s;
}

export async function currentSession(): Promise<Session | null> {
  try {
    const s = await get<Session>('/api/session');
    setSession(s);
    return s;
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return null;
    throw err;
  }
}

export async function signOut(): Promise<void> {
  try { await api('DELETE', '/api/session'); } finally { setSession(null); }
}

/** One NDJSON line of a long operation. */
type StreamLine<R> = { progress: string } | { result: R } | { error: { status: number; messages: string[] } };

function handleLine(line: string, onProgress: (text: string) => void): { done: true; result: unknown } | { done: false } {
  const v = JSON.parse(line) as StreamLine<unknown>;
  if ('progress' in v) { onProgress(v.progress); return { done: false }; }
  if ('result' in v) return { done: true, result: v.result };
  throw new ApiError(v.error.status, v.error.messages);
}

/** A long operation (cluster upgrade): progress lines as they come, then its result. */
export async function streamed<R>(path: string, body: unknown, onProgress: (text: string) => void): Promise<R> {
  const res = await fetch(path, {
    method: 'POST', credentials: 'same-origin', body: JSON.stringify(body),
    headers: { 'content-type': 'application/json', [CSRF_HEADER]: csrf },
  });
  if (!res.ok || res.body === null) {
    const data = await parse(res);
    throw new ApiError(res.status, messagesOf(data, `${String(res.status)} ${res.statusText}`));
  }
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value;
    let nl: number;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, nl).trim();
      buffer = buffer.slice(nl + 1);
      if (line === '') continue;
      const r = handleLine(line, onProgress);
      if (r.done) return r.result as R;
    }
  }
  throw new ApiError(502, ['the node ended the reply without a result']);
}

/**
 * Uploads a file as application/octet-stream with XHR (the only browser API that reports upload
 * progress): `onSent(bytes sent, total)` while it goes, then the node's progress lines (it
 * verifies the bundle while it streams), then the result.
 */
export function upload<R>(path: string, file: Blob, onSent: (sent: number, total: number) => void, onProgress: (text: string) => void): Promise<R> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    let seen = 0;
    let settled = false;
    const drain = (): void => {
      const text = xhr.responseText;
      let nl: number;
      while (!settled && (nl = text.indexOf('\n', seen)) >= 0) {
        const line = text.slice(seen, nl).trim();
        seen = nl + 1;
        if (line === '') continue;
        try {
          const r = handleLine(line, onProgress);
          if (r.done) { settled = true; resolve(r.result as R); }
        } catch (err) { settled = true; reject(err instanceof Error ? err : new Error(String(err))); }
      }
    };
    // A long operation streams NDJSON progress; any other upload answers with one JSON reply.
    const streaming = (): boolean => (xhr.getResponseHeader('content-type') ?? '').includes('ndjson');
    xhr.open('POST', path);
    xhr.setRequestHeader('content-type', 'application/octet-stream');
    xhr.setRequestHeader(CSRF_HEADER, csrf);
    xhr.upload.onprogress = (e) => { onSent(e.loaded, e.lengthComputable ? e.total : file.size); };
    xhr.onprogress = () => { if (streaming()) drain(); };
    xhr.onload = () => {
      if (xhr.status >= 400) {
        let body: unknown = null;
        try { body = JSON.parse(xhr.responseText) as unknown; } catch { /* not JSON */ }
        settled = true;
        reject(new ApiError(xhr.status, messagesOf(body, `${String(xhr.status)} ${xhr.statusText}`)));
        return;
      }
      if (!streaming()) {
        settled = true;
        try { resolve(JSON.parse(xhr.responseText) as R); } catch { reject(new ApiError(502, ['the node answered something that is not JSON'])); }
        return;
      }
      drain();
      if (!settled) { settled = true; reject(new ApiError(502, ['the node ended the reply without a result'])); }
    };
    xhr.onerror = () => { if (!settled) { settled = true; reject(new ApiError(0, ['the connection to the node failed'])); } };
    xhr.send(file);
  });
}

/** Bytes for people: 1.5 MiB. */
export function bytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i += 1; }
  return `${i === 0 ? String(v) : v.toFixed(1)} ${units[i] ?? 'B'}`;
}

export function errorText(err: unknown): string {
  if (err instanceof ApiError) return err.messages.join('; ');
  return err instanceof Error ? err.message : String(err);
}
