/** The service's API, called with the API token the user signed in with (kept for this tab only). */

const TOKEN_KEY = 'call-operator.api-token';

export const session = {
  token: (): string | null => sessionStorage.getItem(TOKEN_KEY),
  signIn: (token: string): void => sessionStorage.setItem(TOKEN_KEY, token),
  signOut: (): void => {
    sessionStorage.removeItem(TOKEN_KEY);
    for (const listener of signOutListeners) listener();
  },
};

const signOutListeners = new Set<() => void>();

/** Called when the token is dropped: signed out, or refused by the service. */
export function onSignOut(listener: () => void): () => void {
  signOutListeners.add(listener);
  return () => signOutListeners.delete(listener);
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export function authHeaders(token = session.token()): Record<string, string> {
  return token ? { authorization: `Bearer ${token}` } : {};
}

/** Nest's error body: { message: string | string[] }, or { reason, message } for refusals. */
async function errorOf(res: Response): Promise<ApiError> {
  let message = `${res.status} ${res.statusText}`;
  try {
    const body = (await res.json()) as { message?: unknown; reason?: unknown };
    if (Array.isArray(body.message)) message = body.message.join('; ');
    else if (typeof body.message === 'string') message = body.message;
    if (typeof body.reason === 'string') message = `${message} (${body.reason})`;
  } catch {
    // Not JSON: the status says it.
  }
  return new ApiError(res.status, message);
}

export async function request(path: string, init: { method?: string; body?: unknown; token?: string; signal?: AbortSignal } = {}): Promise<Response> {
  const headers: Record<string, string> = authHeaders(init.token);
  if (init.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(path, {
    method: init.method ?? 'GET',
    headers,
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
    signal: init.signal,
  });
  if (res.status === 401 && init.token === undefined) session.signOut();
  if (!res.ok) throw await errorOf(res);
  return res;
}

export async function api<T>(path: string, init: { method?: string; body?: unknown; signal?: AbortSignal } = {}): Promise<T> {
  const res = await request(path, init);
  return (res.status === 204 ? undefined : await res.json()) as T;
}

/** A query string of the values that are set. */
export function query(params: Record<string, string | number | undefined>): string {
  const q = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) if (value !== undefined && value !== '') q.set(key, String(value));
  const text = q.toString();
  return text ? `?${text}` : '';
}
