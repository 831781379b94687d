// Server validation as you edit: debounced, the newest request wins, errors indexed by node and field.
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

  useEffect(() => {
    const controller = new AbortController();
    setState((s) => ({ ...s, status: "checking" }));
    const timer = window.setTimeout(async () => {
      const sent = latest.current;
      try {
        const result = await api.validate(sent, controller.signal);
        setState({ errors: indexErrors(result.errors, sent), status: "done" });
      } catch {
        if (!controller.signal.aborted) setState((s) => ({ ...s, status: "unreachable" }));
      }
    }, VALIDATION_DELAY_MS);
    return () => {
      window.clearTimeout(timer);
      controller.abort();
    };
  }, [key]);

  return state;
}
