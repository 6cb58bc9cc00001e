import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';

/** Small pieces every page uses: phase badges, copy buttons, a confirmation dialog, a progress bar. */

const PHASE_CLASS: Record<string, string> = {
  Ready: 'ok',
  Running: 'ok',
  Importing: 'busy',
  Cloning: 'busy',
  Starting: 'busy',
  Pending: 'wait',
  Stopped: 'off',
  Expired: 'off',
  Failed: 'bad',
};

export function Phase({ phase }: { phase: string }) {
  return <span class={`phase phase-${PHASE_CLASS[phase] ?? 'wait'}`}>{phase}</span>;
}

/** Copies `text` to the clipboard; says so for a moment. */
export function CopyButton({ text, label }: { text: string; label: string }) {
  const [done, setDone] = useState<'copied' | 'failed' | undefined>();
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text);
      setDone('copied');
    } catch {
      // Clipboard access needs a secure context (https or localhost): the value is selectable anyway.
      setDone('failed');
    }
    setTimeout(() => setDone(undefined), 1500);
  };
  return (
    <button type="button" class="small" onClick={copy} aria-label={`Copy ${label}`}>
      {done === 'copied' ? 'Copied' : done === 'failed' ? 'Select & copy' : 'Copy'}
    </button>
  );
}

export interface Confirmation {
  title: string;
  body: ComponentChildren;
  action: string;
  danger?: boolean;
  run: () => Promise<void>;
}

/** A modal question (the native <dialog>: focus trapped, Escape cancels). */
export function ConfirmDialog({ ask, onClose }: { ask: Confirmation | undefined; onClose: () => void }) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    if (ask && !dialog.open) dialog.showModal();
    if (!ask && dialog.open) dialog.close();
  }, [ask]);
  return (
    <dialog ref={ref} onClose={onClose} aria-labelledby="confirm-title">
      {ask && (
        <form
          method="dialog"
          onSubmit={(event) => {
            event.preventDefault();
            onClose();
            void ask.run();
          }}
        >
          <h2 id="confirm-title">{ask.title}</h2>
          <div class="dialog-body">{ask.body}</div>
          <div class="actions">
            <button type="button" onClick={onClose}>
              Cancel
            </button>
            <button type="submit" class={ask.danger ? 'danger' : 'primary'}>
              {ask.action}
            </button>
          </div>
        </form>
      )}
    </dialog>
  );
}

export function ProgressBar({ fraction, label }: { fraction: number; label: string }) {
  const percent = Math.max(0, Math.min(100, Math.round(fraction * 100)));
  return <progress class="progress" max={100} value={percent} aria-label={label} />;
}
