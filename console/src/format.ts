export const dateTime = (iso: string | null | undefined): string =>
  iso ? new Date(iso).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' }) : '—';

export function duration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '—';
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

export const usd = (n: number): string => `$${n.toFixed(n < 1 ? 4 : 2)}`;

export const label = (code: string | null | undefined): string => (code ? code.replace(/[_-]+/g, ' ') : '—');
