// Server validation as you edit, errors indexed by node and field. Debounced on the leading edge: an
// edit after a pause is checked at once, a burst of edits (typing) once it pauses; the newest request wins.
import { useEffect, useEffectEvent, useRef, useState } from "react";
import { api } from "../api/client";
import type { Graph } from "../api/types";
import { indexErrors, NO_ERRORS, type IndexedErrors } from "../lib/errors";

export const VALIDATION_DELAY_MS = 150;

export type ValidationState = { errors: IndexedErrors; status: "checking" | "done" | "unreachable" };

/** The answer for the graph of `key`; any other key is still being checked. */
type Checked = { key: string | null; errors: IndexedErrors; reachable: boolean };

export function useValidation(graph: Graph, key: string): ValidationState {
  const [checked, setChecked] = useState<Checked>({ key: null, errors: NO_ERRORS, reachable: true });
  const lastEdit = useRef(0);

  // The graph as it is when the request leaves, after the burst of edits.
  const check = useEffectEvent(async (signal: AbortSignal) => {
    const sent = graph;
    try {
      const result = await api.validate(sent, signal);
      setChecked({ key, errors: indexErrors(result.errors, sent), reachable: true });
    } catch {
      if (!signal.aborted) setChecked((c) => ({ ...c, key, reachable: false }));
    }
  });

  useEffect(() => {
    const controller = new AbortController();
    const now = performance.now();
    const inBurst = now - lastEdit.current < VALIDATION_DELAY_MS;
    lastEdit.current = now;
    const timer = inBurst ? window.setTimeout(() => check(controller.signal), VALIDATION_DELAY_MS) : undefined;
    if (!inBurst) void check(controller.signal);
    return () => {
      window.clearTimeout(timer);
      controller.abort();
    };
  }, [key]);

  const status = checked.key !== key ? "checking" : checked.reachable ? "done" : "unreachable";
  return { errors: checked.errors, status };
}
