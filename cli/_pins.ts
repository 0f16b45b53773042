// Trust on first use for the client-side roles (`client`, `inlet`): the device identifier
// met under a relay name is pinned in `<state>/known_devices.json` and required from then on.
import { SealrouteError } from "../errors.ts";
import { trustIdentifiers, type TrustPolicy } from "../identity/mod.ts";
import type { Output } from "./_output.ts";
import { CliError } from "./_roles_common.ts";

/** The pins of a state directory, and the trust they give for one relay name. */
export class DevicePins {
  readonly file: string;
  readonly #pins: Record<string, string>;
  readonly #to: string;

  private constructor(file: string, pins: Record<string, string>, to: string) {
    this.file = file;
    this.#pins = pins;
    this.#to = to;
  }

  /** Reads `<stateDir>/known_devices.json` for the name `to`; unreadable is `corrupt-state`. */
  static async open(stateDir: string, to: string): Promise<DevicePins> {
    const file = `${stateDir}/known_devices.json`;
    let pins: Record<string, string> = {};
    try {
      const parsed: unknown = JSON.parse(await Deno.readTextFile(file));
      // `[]` (or any non-object) holds no pins: start from an empty map that saves normally.
      if (typeof parsed === "object" && parsed !== null && !Array.isArray(parsed)) {
        pins = parsed as Record<string, string>;
      }
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) {
        throw new CliError(
          "corrupt-state",
          `cannot read ${file} (${(error as Error).name}); fix or delete that file`,
        );
      }
    }
    return new DevicePins(file, pins, to);
  }

  /** The identifier pinned for the name, if any. */
  get pinned(): string | undefined {
    return this.#pins[this.#to];
  }

  /** A policy that accepts only the pinned device, if one is pinned. */
  policy(): TrustPolicy | undefined {
    const pinned = this.pinned;
    return pinned ? trustIdentifiers(pinned) : undefined;
  }

  /** Pins `device` for the name (atomically: temporary file, then rename) and says so. */
  async pin(device: string, out: Output, role: string): Promise<void> {
    this.#pins[this.#to] = device;
    const temp = `${this.file}.tmp-${Deno.pid}`;
    await Deno.writeTextFile(temp, JSON.stringify(this.#pins, null, 2) + "\n");
    await Deno.rename(temp, this.file);
    out.warn(
      role,
      `trusting device ${device} on first use (pinned in ${this.file}); pass --trust I… to ` +
        `name it explicitly`,
    );
  }

  /** `untrusted-peer` from a handshake, as the line that says whom it was checked against. */
  explain(error: unknown, explicit: boolean): unknown {
    if (!(error instanceof SealrouteError) || error.code !== "untrusted-peer") return error;
    return new CliError(
      "untrusted-peer",
      explicit
        ? `the device under '${this.#to}' is not one --trust names`
        : `the device under '${this.#to}' is not ${this.pinned}, pinned on first use in ` +
          `${this.file} (delete that entry if the device was replaced)`,
      { cause: error },
    );
  }
}
