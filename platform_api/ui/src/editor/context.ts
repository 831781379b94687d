import { createContext, useContext } from "react";
import type { GraphError, Step } from "../api/types";
import type { TypeMap } from "../lib/graph";
import { createStore, type Store } from "../lib/store";

/** What is drawn on top of each node: its validation errors and its step in the current test run. */
export type Decorations = { errors: Map<string, GraphError[]>; steps: Map<string, Step> };

export function createDecorations(): Store<Decorations> {
  return createStore<Decorations>({ errors: new Map(), steps: new Map() });
}

export type EditorEnv = { types: TypeMap; decorations: Store<Decorations> };

export const EditorContext = createContext<EditorEnv>({ types: new Map(), decorations: createDecorations() });

export const useEditorEnv = () => useContext(EditorContext);
