// The role programs with an authority (issue 18), as real processes: a device and a client
// enroll with tickets (`--enroll`), present their credentials to each other through the
// relay and accept only members; a client that is not a member is refused; a restarted
// device uses its stored credential without a ticket.
import assert from "node:assert/strict";
import { Proc, run } from "./_proc.ts";

Deno.test("device and client enrolled at an authority accept each other, and nobody else", async () => {
  const dir = await Deno.makeTempDir();
  const procs: Proc[] = [];
  const spawn = (args: string[]) => {
    const p = new Proc(args);
    procs.push(p);
    return p;
  };
  try {
    const authority = spawn(["authority", "--port", "0", "--state", `${dir}/authority`]);
    const [, authorityId] = await authority.waitFor(/^authority ready identifier=(I\S+) tcp=\S+$/);
    // `authority ticket …` and the spelling `authority --ticket …` are the same.
    const ticket = async (role: string, form = "ticket") => {
      const r = await run([
        ...["authority", form, "--attr", `role=${role}`, "--state", `${dir}/authority`],
      ]);
      assert.equal(r.code, 0, r.stderr);
      return r.stdout.trim();
    };
    const relay = spawn(["relay", "--port", "0", "--ws-port", "0", "--state", `${dir}/relay`]);
    const [, tcp, ws] = await relay.waitFor(/^relay ready identifier=I\S+ tcp=(\S+) ws=(\S+)$/);
    const deviceArgs = ["device", "--relay", tcp!, "--name", "sensor", "--state", `${dir}/device`];
    const device = spawn([...deviceArgs, "--enroll", await ticket("sensor", "--ticket")]);
    await device.waitFor(new RegExp(`^device enrolled authority=${authorityId}$`));
    await device.waitFor(/^device ready /);
    assert.doesNotMatch(device.stderr, /every client identity is accepted/);

    const client = (state: string, extra: string[] = []) =>
      run([
        ...["client", "--relay", `ws://${ws}`, "--to", "sensor", "--count", "3"],
        ...["--state", `${dir}/${state}`, ...extra],
      ]);
    const member = await client("client", ["--enroll", await ticket("operator")]);
    assert.equal(member.code, 0, member.stderr);
    assert.match(member.stdout, /^client enrolled authority=/m);
    assert.match(member.stdout, /^client done sent=3 delivered=3 failed=0 /m);

    // Not a member: the device refuses its channel.
    const stranger = await client("stranger");
    assert.equal(stranger.code, 1, stranger.stdout);
    assert.match(
      stranger.stderr,
      /^error \[closed-by-peer\]: device 'sensor' .* closed the channel/m,
    );

    // Restarted without a ticket: the stored credential is used; the member gets through again.
    device.signal("SIGTERM");
    assert.equal((await device.done).code, 0, device.stderr);
    const again = spawn(deviceArgs);
    await again.waitFor(/^device ready /);
    assert.equal(again.count(/^device enrolled/), 0, "enrolled once only");
    const back = await client("client");
    assert.equal(back.code, 0, back.stderr);
    assert.match(back.stdout, /^client done sent=3 delivered=3 failed=0 /m);
  } finally {
    for (const p of procs) await p.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
