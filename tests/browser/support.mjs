// What both browser tests share: where pod and Chromium are, a step runner
// that counts, a free port, waiting for pod's health, and reading codes from
// pod's outbox.

import { execFile } from "node:child_process";
import { readFileSync, existsSync } from "node:fs";
import { createServer } from "node:net";
import { join, resolve, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

export const run = promisify(execFile);
export const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
export const shots = join(root, "artifacts", "screenshots");
export const podBin =
  process.env.POD_BIN ||
  join(process.env.CARGO_TARGET_DIR || join(root, "target"), "debug", "pod");
export const chromiumPath = process.env.CHROMIUM || "/usr/bin/chromium";

/// The steps that passed and failed so far.
export const tally = { passed: 0, failed: 0 };

/// Runs one named step, counts it, and rethrows its failure (a later step
/// depends on the earlier ones).
export async function step(name, body) {
  const started = Date.now();
  try {
    await body();
    tally.passed++;
    console.log(`ok   ${name} (${Date.now() - started} ms)`);
  } catch (error) {
    tally.failed++;
    console.log(`FAIL ${name}: ${error && error.stack ? error.stack : error}`);
    throw error;
  }
}

export function expect(condition, message) {
  if (!condition) throw new Error(message);
}

/// Runs `main`, then prints the tally and sets the exit code.
export function finish(main) {
  main()
    .catch(() => {
      tally.failed = Math.max(tally.failed, 1);
    })
    .finally(() => {
      console.log(`${tally.passed} passed, ${tally.failed} failed`);
      process.exitCode = tally.failed ? 1 : 0;
    });
}

export function freePort() {
  return new Promise((ok, fail) => {
    const server = createServer();
    server.unref();
    server.on("error", fail);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => ok(port));
    });
  });
}

export async function waitForHealth(base, pod) {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (pod.exitCode !== null) throw new Error(`pod exited with ${pod.exitCode}`);
    try {
      const response = await fetch(`${base}/healthz`);
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((ok) => setTimeout(ok, 100));
  }
  throw new Error("pod did not become healthy in 30 s");
}

/// The outbox's entries for `purpose` (`order` or `sign-in`), oldest first.
export function outboxCodes(dataDir, purpose) {
  const path = join(dataDir, "outbox.jsonl");
  if (!existsSync(path)) return [];
  return readFileSync(path, "utf8")
    .split("\n")
    .filter((line) => line.trim())
    .map((line) => JSON.parse(line))
    .filter((entry) => entry.purpose === purpose);
}

/// The newest `purpose` code once there are more than `seen` of them.
export async function codeAfter(dataDir, purpose, seen) {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const codes = outboxCodes(dataDir, purpose);
    if (codes.length > seen) return codes[codes.length - 1].code;
    await new Promise((ok) => setTimeout(ok, 50));
  }
  throw new Error(`no ${purpose} code reached the outbox`);
}

/// Headless Chromium on a fresh profile, with the flags that keep it off
/// the network, and its first page; `foreign` collects requests to any host
/// but 127.0.0.1 and `consoleErrors` the page's console errors.
export async function openBrowser(chromium, profile) {
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath,
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
    viewport: { width: 1100, height: 820 },
  });
  const page = context.pages()[0] || (await context.newPage());
  const foreign = [];
  const consoleErrors = [];
  page.on("request", (request) => {
    const url = new URL(request.url());
    if (url.hostname !== "127.0.0.1") foreign.push(request.url());
  });
  page.on("console", (message) => {
    if (message.type() === "error") consoleErrors.push(message.text());
  });
  return { context, page, foreign, consoleErrors };
}
