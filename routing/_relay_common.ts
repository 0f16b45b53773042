// What the relay service and its client share: addresses, the refusal prefix, quoting.

/** Address of the relay service in Ockam nodes. */
export const RELAY_SERVICE_ADDRESS = "forwarding_service";
/** Alias of the relay service used by static-relay clients. */
export const STATIC_RELAY_SERVICE_ADDRESS = "static_forwarding_service";
/** Prefix Ockam nodes put before a relay name to form the relay worker address. */
export const RELAY_PREFIX = "forward_to_";
/** Request body asking for a relay with a random name. */
export const RELAY_REGISTER = "register";
/**
 * Start of the BARE String reply with which the service refuses a request. Ockam sends no
 * refusal at all (its client would time out); ours is `error:<code>: <explanation>`, the
 * code `relay-refused` (the name is held by another identity or in use) or `relay-limit`
 * (a bound of the service's options was reached).
 */
export const RELAY_REFUSAL_PREFIX = "error:";

/** At most this many characters of peer input go into a refusal or a log line. */
const QUOTE = 64;

/** `text`, cut to a length fit for a log line or a refusal. */
export function quote(text: string): string {
  return text.length <= QUOTE ? text : `${text.slice(0, QUOTE)}... (${text.length} chars)`;
}
