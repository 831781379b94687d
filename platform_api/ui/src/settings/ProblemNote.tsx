// An API problem shown where it belongs: next to the field its errors[].path names, or as a callout.
import { ApiError } from "../api/client";

/** The problem as an ApiError (a thrown non-API error becomes one without a status). */
export const asProblem = (error: unknown): ApiError | null =>
  !error ? null : error instanceof ApiError ? error : new ApiError(0, "", String(error));

/** The message (and hint) the problem gives for the field at `path`, if any. */
export function FieldProblem({ error, path }: { error: unknown; path: string }) {
  const problem = asProblem(error);
  const found = problem?.errors.find((e) => e.path === path || e.path.endsWith(`.${path}`));
  if (!found) return null;
  return (
    <span className="field-error" data-error-for={path}>
      {found.message}{found.hint && <span className="hint field-hint">{found.hint}</span>}
    </span>
  );
}

/** The problem's detail and hint, unless every error it lists is shown next to one of `fields`. */
export function ProblemNote({ error, fields = [] }: { error: unknown; fields?: string[] }) {
  const problem = asProblem(error);
  if (!problem) return null;
  const placed = problem.errors.length > 0 && problem.errors.every((e) => fields.some((f) => e.path === f || e.path.endsWith(`.${f}`)));
  if (placed) return null;
  return (
    <div className="callout callout-error" role="alert">
      <strong>{problem.message}</strong>
      {problem.hint && <p>{problem.hint}</p>}
    </div>
  );
}
