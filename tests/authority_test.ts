// Subprocess tests of the authority: the CLI flow (ticket, enroll, members) and the member
// table across a kill -9, of the `sealroute authority` node and of a process mid-write.
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { loadStoredCredential, refreshStoredCredential } from "../cli/_enroll.ts";
import { stateIdentity } from "../cli/_roles_common.ts";
import { Proc, ROOT, run } from "./_proc.ts";

async function startAuthority(state: string): Promise<{ proc: Proc; id: string; tcp: string }> {
  const proc = new Proc(["authority", "--port", "0", "--state", state]);
  const m = await proc.waitFor(/^authority ready identifier=(I[0-9a-f]{64}) tcp=(\S+)$/);
  return { proc, id: m[1]!, tcp: m[2]! };
}

Deno.test("authority CLI: ticket, enroll, members, and the member table across kill -9", async () => {
  const dir = await Deno.makeTempDir();
  const state = `${dir}/authority`;
  let proc: Proc | undefined;
  try {
    const first = await startAuthority(state);
    proc = first.proc;
    const ticket = await run(["authority", "ticket", "--attr", "role=sensor", "--state", state]);
    assert.equal(ticket.code, 0, ticket.stderr);
    const spare = await run(["authority", "ticket", "--attr", "role=spare", "--state", state]);
    const enrolled = await run(["enroll", "--ticket", ticket.stdout.trim(), "--state", `${dir}/a`]);
    assert.equal(enrolled.code, 0, enrolled.stderr);
    assert.match(enrolled.stdout, new RegExp(`^enrolled identifier=I\\S+ authority=${first.id} `));
    assert.match(enrolled.stdout, /attributes=role=sensor/);
    const stored = await loadStoredCredential(`${dir}/a`);
    assert.equal(stored?.authority.identifier, first.id);
    const other = "I" + "ab".repeat(32);
    const added = await run([
      "authority",
      "add",
      "--member",
      other,
      "--attr",
      "role=x",
      "--state",
      state,
    ]);
    assert.equal(added.code, 0, added.stderr);

    // kill -9, then a restart on the same state: same identity, same members.
    proc.signal("SIGKILL");
    await proc.done;
    const second = await startAuthority(state);
    proc = second.proc;
    assert.equal(second.id, first.id);
    const members = await run(["authority", "members", "--json", "--state", state]);
    const listed = members.stdout.trim().split("\n").map((l) => JSON.parse(l));
    assert.equal(listed.length, 2);
    assert(listed.some((m) => m.identifier === other && m.attributes === "role=x"));
    assert(listed.some((m) => m.attributes === "role=sensor" && m.added_by === first.id));

    // The used ticket stays used; the unused one still works; a forged one is refused.
    const reuse = await run([
      "enroll",
      "--ticket",
      ticket.stdout.trim(),
      "--authority",
      second.tcp,
      "--state",
      `${dir}/b`,
    ]);
    assert.equal(reuse.code, 1);
    assert.match(reuse.stderr, /error \[ticket-used\]/);
    const ok = await run([
      "enroll",
      "--ticket",
      spare.stdout.trim(),
      "--authority",
      second.tcp,
      "--state",
      `${dir}/b`,
    ]);
    assert.equal(ok.code, 0, ok.stderr);
    const text = ticket.stdout.trim();
    const forged = text.slice(0, 10) + (text[10] === "0" ? "1" : "0") + text.slice(11);
    const bad = await run([
      "enroll",
      "--ticket",
      forged,
      "--authority",
      second.tcp,
      "--state",
      `${dir}/c`,
    ]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /error \[ticket-unknown\]/);

    // A stored credential is refreshed from the restarted node; removal ends that.
    const identity = await stateIdentity(`${dir}/a`, "device");
    const fresh = await refreshStoredCredential(`${dir}/a`, identity, { address: second.tcp });
    assert.equal((await loadStoredCredential(`${dir}/a`))?.address, second.tcp);
    assert(fresh.credential.data.length > 0);
    const removed = await run([
      "authority",
      "remove",
      "--member",
      identity.identifier,
      "--state",
      state,
    ]);
    assert.equal(removed.code, 0, removed.stderr);
    await assert.rejects(refreshStoredCredential(`${dir}/a`, identity), {
      name: "AuthorityError",
      code: "not-member",
    });
  } finally {
    proc?.signal("SIGKILL");
    await proc?.done;
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a process killed -9 mid-redemption leaves no half-redeemed ticket", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/authority.db`;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${ROOT}tests/authority_kill_child.ts`, path],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  let last = 0;
  try {
    const guard = setTimeout(() => child.kill("SIGKILL"), 60_000); // hang guard
    const lines = child.stdout.pipeThrough(new TextDecoderStream());
    let buffer = "";
    for await (const chunk of lines) {
      buffer += chunk;
      const done = [...buffer.matchAll(/redeemed (\d+)\n/g)];
      if (done.length) last = Number(done.at(-1)![1]);
      buffer = buffer.slice(buffer.lastIndexOf("\n") + 1);
      if (last >= 200) break;
    }
    clearTimeout(guard);
    child.kill("SIGKILL");
  } finally {
    try {
      child.kill("SIGKILL");
    } catch { /* exited */ }
    await child.status;
  }
  try {
    const db = new DatabaseSync(path);
    const members = db.prepare("SELECT identifier FROM member").all().map((r) => r.identifier);
    const used = db.prepare("SELECT used_by FROM ticket WHERE used_by IS NOT NULL").all()
      .map((r) => r.used_by);
    db.close();
    assert(members.length >= last, `${members.length} members, ${last} reported`);
    assert.deepEqual([...used].sort(), [...members].sort());
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
