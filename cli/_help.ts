// Help texts of `sealroute` and its subcommands (snapshots in cli/testdata/).
import { ROLES } from "./_state.ts";

const EXIT = `Exit status: 0 ok, 1 runtime failure (error [code]: …), 2 usage error.`;
const LINK = `      --heartbeat MS       heartbeat after this long idle, 0 = none (default 5000)
      --dead-after MS      a link silent this long is dead and dialled again
                           (default 30000; at least twice --heartbeat)`;
const ENROLL =
  `      --enroll TICKET      enroll at the ticket's authority once (sealroute authority
                           ticket); then present its credential and accept its members
      --authority HOST:PORT  the authority's address (default: the ticket's)`;
const COMMON = `  -h, --help               show this help
      --log-level LEVEL    error|warn|info|debug (default warn)
      --state DIR          state directory (default $XDG_STATE_HOME/sealroute/<role>,
                           else ~/.local/state/sealroute/<role>)`;

/** Help text by subcommand name; `""` is the top-level help. */
export const HELP: Readonly<Record<string, string>> = {
  "": `sealroute: end-to-end encrypted routes through relays (Ockam wire compatible)

Usage: sealroute <command> [options]

Commands:
  identity create|show|list  manage the identities kept in a state directory
  relay                      serve a relay node (TCP for devices, WebSocket for clients)
  device                     dial out to a relay, register a name, serve echo/telemetry
  client                     open a secure channel to a device and stream telemetry
  send                       send one message to a device's worker and print the reply
  listen                     register a name at a relay and print the messages sent to it
  status                     list who is registered at a relay (for its operators)
  authority                  serve an authority: members, enrollment tickets, credentials
  enroll                     enroll a role's identity with an authority, using a ticket
  outlet                     a device that puts a TCP service (--to) behind a portal
  inlet                      a local TCP port that reaches a device's outlet (a portal)

Options:
  -h, --help     show this help (also: sealroute <command> --help)
      --version  print the version

Examples:
  sealroute relay
  sealroute device --relay 127.0.0.1:4000 --name sensor
  sealroute send --relay ws://127.0.0.1:4001 --to sensor --worker echo hi

${EXIT}`,
  identity: `Usage: sealroute identity create|show|list [options]

  create   create the identity of a role (or print it if it exists)
  show     print the identifier of a role's identity (fails if there is none)
  list     list the identities kept in the state directory

Options:
      --role ROLE          which role's identity (default client): picks state dir and
                           name; ${ROLES.join("|")}
      --json               print one JSON object per line
${COMMON}

Examples:
  sealroute identity create --role device
  sealroute identity show --role relay --json

${EXIT}`,
  relay: `Usage: sealroute relay [options]

Serves a relay node: TCP for devices, WebSocket for clients; prints
"relay ready identifier=I… tcp=HOST:PORT ws=HOST:PORT".

Options:
      --port PORT          TCP port, 0 = any free port (default 4000)
      --ws-port PORT       WebSocket port, 0 = any free port (default 4001)
      --hostname HOST      address to listen on (default 127.0.0.1)
      --trust I…           identities allowed to register names (repeatable)
      --operator I…        identities allowed to ask sealroute status (repeatable;
                           default nobody)
      --queue KIND         store-and-forward for devices whose link is down: sqlite
                           (in <state>/queue.db, survives a restart; default), memory, off
      --queue-max-per-name N   frames kept per name (default 1000)
      --queue-max-age MS   how long a frame and an offline name are kept (default 3600000)
      --max-devices N      names and TCP connections served at once (default 4096)
      --nats URL[,URL…]    join a relay fleet on this NATS JetStream cluster: names held
                           fleet-wide, devices at other relays reached over NATS, the
                           queue kept in JetStream (--queue is then ignored)
      --fleet-name NAME    this relay's name in the fleet, unique in it (default
                           relay-<first 16 hex digits of the identifier>)
      --nats-replicas N    replicas of the fleet's buckets and stream (default 3 with 3
                           or more URLs, else 1); NATS credentials come from the
                           environment: SEALROUTE_NATS_USER and SEALROUTE_NATS_PASS, or
                           SEALROUTE_NATS_TOKEN
${LINK}
      --json               print one JSON object per event line
${COMMON}

Examples:
  sealroute relay
  sealroute relay --port 0 --ws-port 0 --trust I1234…
  sealroute relay --nats nats://10.0.0.1:4222,nats://10.0.0.2:4222 --fleet-name eu-1
  sealroute relay --operator I5678…  # I5678…: sealroute identity show --role operator

${EXIT}`,
  device: `Usage: sealroute device --relay HOST:PORT --name NAME [options]

Dials out to the relay (TCP), registers NAME and serves echo, telemetry and commands
to clients that open a secure channel to it. A lost or silent link is dialled again
(backoff with jitter, never giving up) and NAME registered again after each reconnect;
clients' channels carry on.

Options:
      --relay HOST:PORT    the relay's TCP address (tcp:// or ws:// prefix allowed); a
                           comma-separated list names a fleet's relays, tried in turn
      --name NAME          the relay name to register (letters, digits, . _ -)
      --trust I…           client identities to accept (repeatable; default any)
      --relay-id I…        the relay node's identifier, checked on connect
      --timeout MS         handshake timeout (default 5000)
      --resume             keep clients' channels resumable across a crash of this
                           process (<state>/channels) and resume them at start, with
                           their reliable streams' record (<state>/delivery.db): delivery
                           goes on exactly once
${ENROLL}
${LINK}
      --json               print one JSON object per event line
${COMMON}

Examples:
  sealroute device --relay 127.0.0.1:4000 --name sensor

${EXIT}`,
  client: `Usage: sealroute client --relay HOST:PORT --to NAME [options]

Opens a secure channel through the relay to the device NAME and streams messages to
it with reliable delivery (each counts once the device's receiver has it; the summary
says sent / delivered / failed), or with --delivery none requests telemetry readings,
with a progress line (sent, delivered, rate, reconnects, retries, handshakes).
The device's identifier is pinned on first use in <state>/known_devices.json.
A lost link is dialled again and the channel carries on; a request that times out is
sent again; a channel the device lost (it restarted) is replaced by a new one.

Options:
      --relay HOST:PORT    the relay's address (default transport ws)
      --to NAME            the device's relay name
      --transport tcp|ws   transport for a bare HOST:PORT (default ws)
      --count N            messages to send (default 100)
      --size BYTES         message size (default 64)
      --interval MS        pause between readings (default 0)
      --timeout MS         handshake and per-request timeout (default 5000)
      --give-up MS         stop when nothing was answered this long (default 60000)
      --delivery LEVEL     exactly-once (default), at-least-once, or none (requests)
      --trust I…           device identities to accept (instead of the pin)
${ENROLL}
${LINK}
      --json               print one JSON object per event line
${COMMON}

Examples:
  sealroute client --relay ws://127.0.0.1:4001 --to sensor --count 10

${EXIT}`,
  send: `Usage: sealroute send --relay HOST:PORT --to NAME --worker WORKER MESSAGE [options]

Opens a secure channel through the relay to the device NAME, sends MESSAGE to its
worker WORKER and prints the reply.

Options:
      --relay HOST:PORT    the relay's address (default ws://127.0.0.1:4001)
      --to NAME            the device's relay name
      --worker WORKER      the worker on the device (e.g. echo)
      --transport tcp|ws   transport for a bare HOST:PORT (default ws)
      --timeout MS         handshake and reply timeout (default 5000)
      --trust I…           device identities to accept
      --json               print the reply as one JSON object
${COMMON}

Examples:
  sealroute send --to sensor --worker echo hi
  sealroute send --relay ws://127.0.0.1:4001 --to sensor --worker echo hi --json

${EXIT}`,
  listen: `Usage: sealroute listen --relay HOST:PORT --name NAME [options]

Registers NAME at the relay (as device does) and serves the worker WORKER to clients'
end-to-end channels. Each message is answered "ok" and printed as one line:
  message from=I… worker=WORKER bytes=N text="…"
(text quoted and escaped, cut at 120 characters; --json lines carry all of it).
Runs until interrupted; its link heals as the device's does. State role: listen (its own
state directory and identity).

Options:
      --relay HOST:PORT    the relay's TCP address (tcp:// or ws:// prefix allowed)
      --name NAME          the relay name to register (letters, digits, . _ -)
      --worker WORKER      the worker to serve (default inbox)
      --trust I…           client identities to accept (repeatable; default any)
      --relay-id I…        the relay node's identifier, checked on connect
      --timeout MS         handshake timeout (default 5000)
${ENROLL}
${LINK}
      --json               print one JSON object per event line
${COMMON}

Examples:
  sealroute listen --relay 127.0.0.1:4000 --name inbox-1
  sealroute send --relay ws://127.0.0.1:4001 --to inbox-1 --worker inbox hello

${EXIT}`,
  status: `Usage: sealroute status --relay HOST:PORT [options]

Asks the relay, over a secure channel to its node, which names are registered and by
which identity; prints "registered name=… identity=I… since=…" per name, then
"status count=N". Only identities the relay was started with --operator may ask (error
code not-operator otherwise). State role: operator (its identifier:
sealroute identity show --role operator).

Options:
      --relay HOST:PORT    the relay's address (default transport ws; tcp:// allowed)
      --relay-id I…        the relay node's identifier, checked on connect
      --timeout MS         handshake and reply timeout (default 5000)
      --json               print one JSON object per line
${COMMON}

Examples:
  sealroute status --relay ws://127.0.0.1:4001
  sealroute status --relay 127.0.0.1:4001 --json

${EXIT}`,
  authority: `Usage: sealroute authority [options]
       sealroute authority ticket --attr NAME=VALUE [--ttl S] [options]
                 (also: sealroute authority --ticket --attr NAME=VALUE)
       sealroute authority members|add|remove [options]

Serves an authority node on TCP: members enroll with one-time tickets and get
credentials for their attributes over secure channels; prints
"authority ready identifier=I… tcp=HOST:PORT". The member table is kept in
<state>/authority.db (SQLite). ticket, members, add and remove act on the state
directory directly (as the authority itself), whether or not the node runs.

Options:
      --port PORT          TCP port, 0 = any free port (default 4002)
      --hostname HOST      address to listen on (default 127.0.0.1)
      --credential-ttl S   lifetime of issued credentials (default 3600)
      --ticket-ttl S       default lifetime of tickets (default 600)
      --enroller I…        identities allowed to ask for tickets over a channel
                           (repeatable)
      --attr NAME=VALUE    ticket, add: an attribute the member gets (repeatable)
      --ttl S              ticket: its lifetime (default --ticket-ttl, at most 30 days)
      --address HOST:PORT  ticket: where devices reach the authority (default: the
                           running node's, from <state>/address)
      --member I…          add, remove: the member's identifier
      --json               print one JSON object per line
${COMMON}

Examples:
  sealroute authority --port 0
  sealroute authority ticket --attr role=sensor --ttl 3600
  sealroute authority remove --member I1234…

${EXIT}`,
  enroll: `Usage: sealroute enroll --ticket TICKET [--authority HOST:PORT] [options]

Enrolls the identity of a role with the authority named in the ticket (any other
peer is refused), once, and stores its credential and the authority's identity in
<state>/credential.json; prints "enrolled identifier=I… authority=I… …".

Options:
      --ticket TICKET      from: sealroute authority ticket
      --authority HOST:PORT  the authority's TCP address (default: the ticket's)
      --role ROLE          whose identity (default device); picks the state dir;
                           ${ROLES.join("|")}
      --timeout MS         handshake and request timeout (default 10000)
      --json               print one JSON object per line
${COMMON}

Examples:
  sealroute enroll --ticket 8501… --authority 127.0.0.1:4002
  sealroute enroll --ticket 8501… --role client

${EXIT}`,
  outlet: `Usage: sealroute outlet --relay HOST:PORT --name NAME --to HOST:PORT [options]

Runs as device does (registers NAME at the relay, same link; state role outlet), and
serves a TCP outlet: each portal a client's inlet opens through its end-to-end secure
channel dials --to and pipes bytes both ways (Ockam's portal messages). The relay sees
only ciphertext. A portal refused by --allow or --policy is closed at once and logged
on both sides.

Options:
      --relay HOST:PORT    the relay's TCP address (tcp:// or ws:// prefix allowed)
      --name NAME          the relay name to register (letters, digits, . _ -)
      --to HOST:PORT       the TCP service to expose (e.g. 127.0.0.1:8080)
      --allow I…           client identities that may open portals (comma separated;
                           default: every client the device accepts)
      --policy EXPR        ABAC policy portals must pass, e.g. (= subject.role "ops")
      --idle-timeout MS    close a portal idle this long, 0 = never (default 900000)
      --trust I…           client identities to accept at all (repeatable; default any)
      --relay-id I…        the relay node's identifier, checked on connect
      --timeout MS         handshake timeout (default 5000)
${ENROLL}
${LINK}
      --json               print one JSON object per event line
${COMMON}

Examples:
  sealroute outlet --relay 127.0.0.1:4000 --name web --to 127.0.0.1:8080
  sealroute inlet --relay ws://127.0.0.1:4001 --to web --listen 127.0.0.1:8081

${EXIT}`,
  inlet: `Usage: sealroute inlet --relay HOST:PORT --to NAME --listen HOST:PORT [options]

Opens a secure channel through the relay to the device NAME (as client does) and
listens on --listen; each accepted TCP connection is a portal to the device's outlet:
its bytes reach the outlet's --to service and back. Prints
"inlet ready listen=HOST:PORT to=NAME device=I…". A portal the outlet refuses (policy,
its service down) is closed at once and logged. State role: client (its identity and
<state>/known_devices.json, where the device is pinned on first use).

Options:
      --relay HOST:PORT    the relay's address (default transport ws)
      --to NAME            the device's relay name
      --listen HOST:PORT   where to accept connections (port 0 = any free port)
      --transport tcp|ws   transport for a bare HOST:PORT (default ws)
      --outlet ADDRESS     the outlet's address on the device (default outlet)
      --idle-timeout MS    close a portal idle this long, 0 = never (default 900000)
      --timeout MS         handshake and pong timeout (default 5000)
      --trust I…           device identities to accept (instead of the pin)
${LINK}
      --json               print one JSON object per event line
${COMMON}

Examples:
  sealroute inlet --relay ws://127.0.0.1:4001 --to web --listen 127.0.0.1:8081
  curl http://127.0.0.1:8081/

${EXIT}`,
};
