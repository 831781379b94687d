// Errors of the platform API: RFC 9457 problem+json bodies, as one error type for the whole UI.

/** One entry of a problem's `errors`: a field path, what is wrong, how to fix it; some problems add fields. */
export type ProblemError = { path: string; message: string; hint?: string; [extra: string]: unknown };

export class ApiError extends Error {
  constructor(
    public status: number,
    public type: string,
    message: string,
    public hint?: string,
    public errors: ProblemError[] = [],
  ) {
    super(message);
  }
  /** True for a lost connection or a server-side failure: worth keeping the user's work locally. */
  get isTransient(): boolean {
    return this.status === 0 || this.status >= 500;
  }
  get isConflict(): boolean {
    return this.status === 409 && this.type.endsWith("/version-conflict");
  }
}

type ProblemBody = { type?: string; title?: string; detail?: string; hint?: string; errors?: ProblemError[] };

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/** The ApiError of an answer with `status` and its parsed body: a problem, any other JSON, text or nothing. */
export function problemFrom(status: number, statusText: string, body: unknown): ApiError {
  const problem: ProblemBody = isObject(body) ? body : {};
  const message = problem.detail ?? problem.title ?? `${status} ${statusText}`.trim();
  const errors = Array.isArray(problem.errors) ? problem.errors : [];
  return new ApiError(status, problem.type ?? "", message, problem.hint, errors);
}
