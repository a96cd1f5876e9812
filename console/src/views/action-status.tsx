/** What the last action of a form came to (useAction), announced to screen readers as it changes. */
export function ActionStatus({ action }: { action: { message: string | null; error: string | null } }) {
  return (
    <div aria-live="polite">
      {action.message && <p class="ok">{action.message}</p>}
      {action.error && (
        <p class="error" role="alert">
          {action.error}
        </p>
      )}
    </div>
  );
}
