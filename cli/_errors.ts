// Errors of the `sealroute` command: one line `error [code]: message`, exit status by kind.
import { SealrouteError } from "../errors.ts";

/** A failure the user caused and can fix; `code` names it. */
export class CliFailure extends SealrouteError {}

/** A bad command line: exit status 2. */
export class CliUsageError extends SealrouteError {
  constructor(message: string) {
    super("usage", message);
  }
}

/** Exit status of an error: 2 for a usage error, 1 for anything else. */
export function statusOf(error: unknown): number {
  return error instanceof SealrouteError && error.code === "usage" ? 2 : 1;
}

/** `error [code]: message` (plus the cause when it adds something); `unexpected` for bugs. */
export function errorText(error: unknown): string {
  if (error instanceof SealrouteError) {
    const c = error.cause;
    const cause = c instanceof Error && !(c instanceof SealrouteError && c.code === error.code) &&
        !error.message.includes(c.message)
      ? ` (${c instanceof SealrouteError ? `${c.code}: ` : ""}${c.message})`
      : "";
    return `error [${error.code}]: ${error.message}${cause}`;
  }
  return `error [unexpected]: ${error instanceof Error ? error.message : String(error)}`;
}
