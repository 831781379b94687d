// Server validation as you edit, errors indexed by node and field. Debounced on the leading edge: an
// edit after a pause is checked at once, a burst of edits (typing) once it pauses; the newest request wins.
import { useEffect, useRef, useState } from "react";
import { api } from "../api/client";
import type { Graph } from "../api/types";
import { indexErrors, NO_ERRORS, type IndexedErrors } from "../lib/errors";

export const VALIDATION_DELAY_MS = 150;

export type ValidationState = { errors: IndexedErrors; status: "checking" | "done" | "unreachable" };

export function useValidation(graph: Graph, key: string): ValidationState {
  const [state, setState] = useState<ValidationState>({ errors: NO_ERRORS, status: "checking" });
  const latest = useRef(graph);
  latest.current = graph;
  const lastEdit = useRef(0);

  useEffect(() => {
    const controller = new AbortController();
    const now = performance.now();
    const inBurst = now - lastEdit.current < VALIDATION_DELAY_MS;
    lastEdit.current = now;
    setState((s) => ({ ...s, status: "checking" }));
    const check = async () => {
      const sent = latest.current;
      try {
        const result = await api.validate(sent, controller.signal);
        setState({ errors: indexErrors(result.errors, sent), status: "done" });
      } catch {
        if (!controller.signal.aborted) setState((s) => ({ ...s, status: "unreachable" }));
      }
    };
    const timer = inBurst ? window.setTimeout(check, VALIDATION_DELAY_MS) : undefined;
    if (!inBurst) check();
    return () => {
      window.clearTimeout(timer);
      controller.abort();
    };
  }, [key]);

  return state;
}
