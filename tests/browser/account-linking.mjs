// Account linking against pod's own OAuth 2.0 server, end to end on
// loopback, playing Alexa's side: headless Chromium (Debian's package,
// driven by playwright-core) does the person's part, this script does
// Alexa's (its redirect endpoint is a small HTTP server here; the token
// requests are fetch calls with HTTP Basic; voice requests go through
// `pod simulate`, signed with the server's development CA as Alexa would
// sign them).
//
// Scenario: register the skill with `pod clients add`; open the
// authorization URL; sign in with a code from the outbox and come back to
// the consent page; Allow; Alexa's endpoint receives the code and the
// state; exchange the code (PKCE S256) for tokens; order and confirm by
// voice with that access token; refresh; presenting the old refresh token
// again revokes the whole family (the voice skill asks to link again);
// link again, then Unlink on the Linked skills page ends that access at
// once; Deny sends access_denied. Screenshots go to artifacts/screenshots/.
//
// Environment: POD_BIN (default $CARGO_TARGET_DIR/debug/pod, else
// target/debug/pod), CHROMIUM (default /usr/bin/chromium).

import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, mkdirSync, existsSync, rmSync } from "node:fs";
import { createServer as createHttpServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";
import {
  chromiumPath,
  codeAfter,
  expect,
  finish,
  freePort,
  openBrowser,
  podBin,
  root,
  run,
  shots,
  step,
  tally,
  waitForHealth,
} from "./support.mjs";

/// Alexa's redirect endpoint: records every query it receives.
function alexaRedirectEndpoint(port) {
  const received = [];
  const server = createHttpServer((request, response) => {
    const url = new URL(request.url, `http://127.0.0.1:${port}`);
    // Only the redirect URI itself (the browser also asks for a favicon).
    if (url.pathname.startsWith("/api/skill/link/")) received.push(Object.fromEntries(url.searchParams));
    response.writeHead(200, { "content-type": "text/html; charset=utf-8" });
    response.end("<!doctype html><title>Alexa</title><h1>Account linking finished</h1>");
  });
  return new Promise((ok) => server.listen(port, "127.0.0.1", () => ok({ server, received })));
}

async function main() {
  if (!existsSync(podBin)) {
    console.log(`building ${podBin}`);
    await run("cargo", ["build", "-p", "pod-server", "--bin", "pod"], {
      cwd: root,
      maxBuffer: 64 * 1024 * 1024,
    });
  }
  expect(existsSync(chromiumPath), `no Chromium at ${chromiumPath} (run scripts/install-test-deps.sh)`);
  mkdirSync(shots, { recursive: true });

  const work = mkdtempSync(join(tmpdir(), "pod-linking-"));
  const dataDir = join(work, "data");
  const profile = join(work, "chromium-profile");
  mkdirSync(profile);
  const port = await freePort();
  const alexaPort = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const redirectUri = `http://127.0.0.1:${alexaPort}/api/skill/link/M2POD0TEST`;
  const alexa = await alexaRedirectEndpoint(alexaPort);

  // The operator registers the skill; the secret is printed once.
  const { stdout: added } = await run(podBin, [
    "clients", "add", "alexa-skill",
    "--name", "Pizza on Demand for Alexa",
    "--redirect-uri", redirectUri,
    "--data-dir", dataDir,
  ]);
  const secret = /client secret: (\S+)/.exec(added)?.[1];
  expect(secret, `no secret printed: ${added}`);
  const basic = `Basic ${Buffer.from(`alexa-skill:${secret}`).toString("base64")}`;

  const pod = spawn(podBin, ["serve", "--data-dir", dataDir, "--listen", `127.0.0.1:${port}`], {
    stdio: ["ignore", "ignore", "pipe"],
    env: { ...process.env, RUST_LOG: process.env.RUST_LOG || "warn" },
  });
  let podLog = "";
  pod.stderr.on("data", (chunk) => {
    podLog += chunk;
  });

  const say = (token, ...args) =>
    run(podBin, ["simulate", "--access-token", token, "--data-dir", dataDir, "--url", `${base}/alexa`, ...args]);
  const tokenRequest = (form) =>
    fetch(`${base}/oauth/token`, {
      method: "POST",
      headers: { authorization: basic, "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams(form),
    });
  const authorizeUrl = (state, challenge) =>
    `${base}/oauth/authorize?` +
    new URLSearchParams({
      response_type: "code",
      client_id: "alexa-skill",
      redirect_uri: redirectUri,
      scope: "order",
      state,
      code_challenge: challenge,
      code_challenge_method: "S256",
    });
  const pkce = () => {
    const verifier = randomBytes(32).toString("base64url");
    return { verifier, challenge: createHash("sha256").update(verifier).digest("base64url") };
  };
  const exchange = async (code, verifier) => {
    const response = await tokenRequest({
      grant_type: "authorization_code",
      code,
      redirect_uri: redirectUri,
      code_verifier: verifier,
    });
    const body = await response.json();
    expect(response.status === 200, `token endpoint answered ${response.status}: ${JSON.stringify(body)}`);
    expect(response.headers.get("cache-control") === "no-store", "token response is cacheable");
    return body;
  };

  let context;
  let first;
  let refreshed;
  try {
    await waitForHealth(base, pod);
    const browser = await openBrowser(chromium, profile);
    context = browser.context;
    const { page, foreign, consoleErrors } = browser;

    const firstPkce = pkce();
    await step("the authorization request asks a signed-out person to sign in", async () => {
      await page.goto(authorizeUrl("state-one", firstPkce.challenge));
      expect(new URL(page.url()).pathname === "/app/sign-in", `not at sign-in: ${page.url()}`);
      await page.getByText("Sign in to link your account").waitFor();
      await page.getByLabel("User name or email").fill("demo");
      await page.getByRole("button", { name: "Send me a code" }).click();
      await page.getByLabel("Code").waitFor();
    });

    await step("signing in with a code returns to the consent page", async () => {
      const code = await codeAfter(dataDir, "sign_in", 0);
      await page.getByLabel("Code").fill(code);
      await page.getByRole("button", { name: "Sign in" }).click();
      await page.getByRole("heading", { name: "Link Pizza on Demand for Alexa?" }).waitFor();
      expect(new URL(page.url()).pathname === "/app/oauth/authorize", `landed on ${page.url()}`);
      const text = await page.locator("main").innerText();
      expect(/Place pizza orders for you by voice/.test(text), `consent page shows: ${text}`);
      await page.screenshot({ path: join(shots, "account-linking-consent.png"), fullPage: true });
    });

    await step("Allow sends the code and the state to Alexa's redirect URL", async () => {
      await page.getByRole("button", { name: "Allow" }).click();
      await page.getByRole("heading", { name: "Account linking finished" }).waitFor();
      expect(page.url().startsWith(redirectUri), `landed on ${page.url()}`);
      const got = alexa.received.at(-1);
      expect(got.state === "state-one", `state not echoed: ${JSON.stringify(got)}`);
      expect(got.code && got.code.length >= 43, `no code: ${JSON.stringify(got)}`);
    });

    await step("Alexa exchanges the code for tokens with HTTP Basic and PKCE", async () => {
      first = await exchange(alexa.received.at(-1).code, firstPkce.verifier);
      expect(first.token_type === "Bearer" && first.refresh_token, JSON.stringify(first));
      // The code is single use.
      const again = await tokenRequest({
        grant_type: "authorization_code",
        code: alexa.received.at(-1).code,
        redirect_uri: redirectUri,
        code_verifier: firstPkce.verifier,
      });
      expect(again.status === 400 && (await again.json()).error === "invalid_grant", "code reused");
      // Which revoked what it issued (RFC 6749 §4.1.2): link again.
      const relink = pkce();
      await page.goto(authorizeUrl("state-two", relink.challenge));
      await page.getByRole("button", { name: "Allow" }).click();
      await page.getByRole("heading", { name: "Account linking finished" }).waitFor();
      expect(alexa.received.at(-1).state === "state-two", "state not echoed");
      first = await exchange(alexa.received.at(-1).code, relink.verifier);
    });

    await step("an order by voice with the linked access token, confirmed with its code", async () => {
      const { stdout } = await say(first.access_token, "get me a large pizza with pepperoni");
      expect(/code/i.test(stdout), `unexpected answer: ${stdout}`);
      const code = await codeAfter(dataDir, "order", 0);
      const { stdout: confirmed } = await say(
        first.access_token,
        "--intent", "AuthorizePizzaOrderIntent", "--slot", `Code=${code}`,
      );
      expect(/confirm/i.test(confirmed), `unexpected answer: ${confirmed}`);
    });

    await step("a refresh rotates the refresh token, and the new access token works", async () => {
      const response = await tokenRequest({ grant_type: "refresh_token", refresh_token: first.refresh_token });
      refreshed = await response.json();
      expect(response.status === 200, `refresh answered ${response.status}: ${JSON.stringify(refreshed)}`);
      expect(refreshed.refresh_token !== first.refresh_token, "refresh token not rotated");
      const { stdout } = await say(refreshed.access_token, "get me a small pizza");
      expect(/code/i.test(stdout), `unexpected answer: ${stdout}`);
    });

    await step("reusing the old refresh token revokes the whole family", async () => {
      const reuse = await tokenRequest({ grant_type: "refresh_token", refresh_token: first.refresh_token });
      expect(reuse.status === 400 && (await reuse.json()).error === "invalid_grant", "reuse accepted");
      const newest = await tokenRequest({ grant_type: "refresh_token", refresh_token: refreshed.refresh_token });
      expect(newest.status === 400, "the newest refresh token still works");
      const { stdout } = await say(refreshed.access_token, "get me a small pizza");
      expect(/link your Pizza on Demand account/i.test(stdout), `still linked: ${stdout}`);
    });

    let linked;
    await step("linking again needs only the consent (already signed in)", async () => {
      const again = pkce();
      await page.goto(authorizeUrl("state-three", again.challenge));
      await page.getByRole("button", { name: "Allow" }).click();
      await page.getByRole("heading", { name: "Account linking finished" }).waitFor();
      expect(alexa.received.at(-1).state === "state-three", "state not echoed");
      linked = await exchange(alexa.received.at(-1).code, again.verifier);
      const { stdout } = await say(linked.access_token, "get me a medium pizza");
      expect(/code/i.test(stdout), `unexpected answer: ${stdout}`);
    });

    await step("Unlink on the Linked skills page ends the skill's access at once", async () => {
      await page.goto(`${base}/app`);
      await page.getByRole("link", { name: "Linked skills" }).click();
      await page.getByRole("heading", { name: "Linked skills" }).waitFor();
      expect((await page.locator('[data-state="linked"]').count()) === 1, "not one linked skill");
      await page.screenshot({ path: join(shots, "linked-skills.png"), fullPage: true });
      await page.getByRole("button", { name: "Unlink Pizza on Demand for Alexa" }).click();
      await page.getByText("Unlinked.").waitFor();
      await page.locator('[data-state="no-links"]').waitFor();
      const { stdout } = await say(linked.access_token, "get me a medium pizza");
      expect(/link your Pizza on Demand account/i.test(stdout), `still linked: ${stdout}`);
      const refresh = await tokenRequest({ grant_type: "refresh_token", refresh_token: linked.refresh_token });
      expect(refresh.status === 400, "the refresh token survived the unlink");
    });

    await step("the operator's `pod clients revoke` ends a link too", async () => {
      const again = pkce();
      await page.goto(authorizeUrl("state-op", again.challenge));
      await page.getByRole("button", { name: "Allow" }).click();
      await page.getByRole("heading", { name: "Account linking finished" }).waitFor();
      const tokens = await exchange(alexa.received.at(-1).code, again.verifier);
      const { stdout: revoked } = await run(podBin, [
        "clients", "revoke", "alexa-skill", "--user", "demo", "--data-dir", dataDir,
      ]);
      expect(/revoked 1 link/.test(revoked), `pod clients revoke said: ${revoked}`);
      const { stdout } = await say(tokens.access_token, "get me a medium pizza");
      expect(/link your Pizza on Demand account/i.test(stdout), `still linked: ${stdout}`);
    });

    await step("Deny sends access_denied with the state", async () => {
      await page.goto(authorizeUrl("state-four", pkce().challenge));
      await page.getByRole("button", { name: "Deny" }).click();
      await page.getByRole("heading", { name: "Account linking finished" }).waitFor();
      const got = alexa.received.at(-1);
      expect(got.error === "access_denied" && got.state === "state-four", JSON.stringify(got));
      expect(!got.code, "a code came with the denial");
    });

    await step("an unregistered redirect URI gets an error page, not a redirect", async () => {
      const url = new URL(authorizeUrl("state-five", pkce().challenge));
      url.searchParams.set("redirect_uri", "https://evil.example/steal");
      const response = await page.goto(url.toString());
      expect(response.status() === 400, `answered ${response.status()}`);
      expect(new URL(page.url()).host === `127.0.0.1:${port}`, `left pod: ${page.url()}`);
    });

    await step("nothing was loaded from another host and no script failed", async () => {
      expect(foreign.length === 0, `requests to other hosts: ${foreign.join(", ")}`);
      const real = consoleErrors.filter((e) => !/status of 400/.test(e));
      expect(real.length === 0, `console errors: ${real.join(" | ")}`);
    });
  } finally {
    if (context) await context.close();
    alexa.server.close();
    pod.kill("SIGTERM");
    await new Promise((ok) => (pod.exitCode !== null ? ok() : pod.on("exit", ok)));
    if (tally.failed) console.log(`pod's log:\n${podLog}`);
    rmSync(work, { recursive: true, force: true });
  }
  console.log(`screenshots: ${shots}`);
}

finish(main);
