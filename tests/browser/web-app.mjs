// pod's web app in a real browser: headless Chromium (Debian's package)
// driven by playwright-core, against `pod serve` on a free port with a
// fresh data folder.
//
// Scenario: sign in with a code from the outbox (the sign-in page sets only
// the CSRF cookie; the session comes with the posted form); while the orders page is
// open, place an order through /alexa (`pod simulate`, signed as Alexa
// would) and see it appear as pending without a reload; confirm it through
// /alexa and see it move to confirmed; clear; sign out. Screenshots go to
// artifacts/screenshots/. The time from `pod simulate` returning to the DOM
// change is printed, not asserted beyond a generous timeout.
//
// Environment: POD_BIN (default $CARGO_TARGET_DIR/debug/pod, else
// target/debug/pod), CHROMIUM (default /usr/bin/chromium).

import { spawn } from "node:child_process";
import { mkdtempSync, mkdirSync, existsSync, rmSync } from "node:fs";
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

const LIVE_TIMEOUT = 10_000;

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

  const work = mkdtempSync(join(tmpdir(), "pod-browser-"));
  const dataDir = join(work, "data");
  const profile = join(work, "chromium-profile");
  mkdirSync(profile);
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const pod = spawn(podBin, ["serve", "--data-dir", dataDir, "--listen", `127.0.0.1:${port}`], {
    stdio: ["ignore", "ignore", "pipe"],
    env: { ...process.env, RUST_LOG: process.env.RUST_LOG || "warn" },
  });
  let podLog = "";
  pod.stderr.on("data", (chunk) => {
    podLog += chunk;
  });

  const simulate = (...args) =>
    run(podBin, ["simulate", "--user", "demo", "--data-dir", dataDir, "--url", `${base}/alexa`, ...args]);

  let context;
  const timings = {};
  try {
    await waitForHealth(base, pod);
    const browser = await openBrowser(chromium, profile);
    context = browser.context;
    const { page, foreign, consoleErrors } = browser;

    await step("the sign-in page asks for a user name", async () => {
      const response = await page.goto(`${base}/app`);
      expect(response.ok(), `GET /app answered ${response.status()}`);
      expect(page.url().endsWith("/app/sign-in"), `not redirected to sign-in: ${page.url()}`);
      // A page view stores nothing: only the CSRF cookie, no session yet.
      const cookies = async () => Object.fromEntries((await context.cookies()).map((c) => [c.name, c]));
      const before = await cookies();
      expect(!before.pod_session, `a session was made for a page view: ${JSON.stringify(before)}`);
      const csrf = before.pod_csrf;
      expect(csrf && csrf.httpOnly && csrf.sameSite === "Lax", `CSRF cookie: ${JSON.stringify(csrf)}`);
      await page.getByLabel("User name or email").fill("demo");
      await page.screenshot({ path: join(shots, "sign-in.png") });
      await page.getByRole("button", { name: "Send me a code" }).click();
      await page.getByLabel("Code").waitFor();
      expect((await cookies()).pod_session, "posting the form made no sign-in session");
    });

    await step("a code from the outbox signs in", async () => {
      const code = await codeAfter(dataDir, "sign_in", 0);
      await page.getByLabel("Code").fill(code);
      await page.getByRole("button", { name: "Sign in" }).click();
      await page.getByRole("heading", { name: "Your orders" }).waitFor();
      expect(new URL(page.url()).pathname === "/app", `landed on ${page.url()}`);
      await page.locator("#live.on").waitFor({ timeout: LIVE_TIMEOUT });
      await page.screenshot({ path: join(shots, "orders-empty.png"), fullPage: true });
    });

    await step("an order placed through /alexa appears as pending without a reload", async () => {
      await page.evaluate(() => {
        window.__podMarks = {};
        const watch = () => {
          if (!window.__podMarks.pending && document.querySelector('[data-state="pending"]')) {
            window.__podMarks.pending = Date.now();
          }
          if (!window.__podMarks.confirmed && document.querySelector('[data-state="confirmed"]')) {
            window.__podMarks.confirmed = Date.now();
          }
        };
        new MutationObserver(watch).observe(document.body, { childList: true, subtree: true });
        window.__podLoaded = performance.timeOrigin;
      });
      const loaded = await page.evaluate(() => window.__podLoaded);
      const { stdout } = await simulate("get me a large pizza with pepperoni");
      const returned = Date.now();
      expect(/code/i.test(stdout), `unexpected answer: ${stdout}`);
      await page.locator('[data-state="pending"]').waitFor({ timeout: LIVE_TIMEOUT });
      const marked = await page.evaluate(() => window.__podMarks.pending);
      timings.placed = marked - returned;
      expect(
        (await page.evaluate(() => performance.timeOrigin)) === loaded,
        "the page was reloaded",
      );
      const text = await page.locator('[data-state="pending"]').innerText();
      expect(/Large pizza/.test(text) && /pepperoni/.test(text), `pending order shows: ${text}`);
      expect(/email/.test(text), `where the code went is missing: ${text}`);
      await page.waitForTimeout(1700); // let the highlight fade for the screenshot
      await page.screenshot({ path: join(shots, "orders-pending.png"), fullPage: true });
      await page.setViewportSize({ width: 390, height: 844 });
      await page.screenshot({ path: join(shots, "orders-pending-phone.png"), fullPage: true });
      await page.setViewportSize({ width: 1100, height: 820 });
    });

    await step("confirming through /alexa moves it to confirmed without a reload", async () => {
      const code = await codeAfter(dataDir, "order", 0);
      const loaded = await page.evaluate(() => performance.timeOrigin);
      const { stdout } = await simulate("--intent", "AuthorizePizzaOrderIntent", "--slot", `Code=${code}`);
      const returned = Date.now();
      expect(/confirm|order/i.test(stdout), `unexpected answer: ${stdout}`);
      await page.locator('[data-state="confirmed"]').waitFor({ timeout: LIVE_TIMEOUT });
      await page.locator('[data-state="no-pending"]').waitFor({ timeout: LIVE_TIMEOUT });
      const marked = await page.evaluate(() => window.__podMarks.confirmed);
      timings.confirmed = marked - returned;
      expect((await page.evaluate(() => performance.timeOrigin)) === loaded, "the page was reloaded");
      await page.waitForTimeout(1700);
      await page.screenshot({ path: join(shots, "orders-confirmed.png"), fullPage: true });
    });

    await step("the profile shows the contact points", async () => {
      await page.getByRole("link", { name: "Profile" }).click();
      await page.getByRole("heading", { name: "Your profile" }).waitFor();
      const text = await page.locator("main").innerText();
      expect(/demo@example\.com/.test(text), `profile shows: ${text}`);
      await page.screenshot({ path: join(shots, "profile.png"), fullPage: true });
      await page.getByRole("link", { name: "Orders" }).click();
      await page.getByRole("heading", { name: "Your orders" }).waitFor();
    });

    await step("clearing removes the confirmed orders", async () => {
      await page.getByRole("button", { name: "Clear confirmed orders" }).click();
      await page.getByText("Your confirmed orders are cleared.").waitFor();
      expect((await page.locator('[data-state="confirmed"]').count()) === 0, "confirmed orders remain");
    });

    await step("the privacy policy is public", async () => {
      await page.getByRole("link", { name: "Privacy", exact: true }).click();
      await page.getByRole("heading", { name: "Privacy policy" }).waitFor();
      await page.screenshot({ path: join(shots, "privacy.png"), fullPage: true });
      await page.goBack();
    });

    await step("signing out ends the session", async () => {
      await page.getByRole("button", { name: "Sign out" }).click();
      await page.getByText("You are signed out.").waitFor();
      await page.goto(`${base}/app`);
      expect(page.url().endsWith("/app/sign-in"), `still signed in: ${page.url()}`);
    });

    await step("nothing was loaded from another host and no script failed", async () => {
      expect(foreign.length === 0, `requests to other hosts: ${foreign.join(", ")}`);
      expect(consoleErrors.length === 0, `console errors: ${consoleErrors.join(" | ")}`);
    });
  } finally {
    if (context) await context.close();
    pod.kill("SIGTERM");
    await new Promise((ok) => (pod.exitCode !== null ? ok() : pod.on("exit", ok)));
    if (tally.failed) console.log(`pod's log:\n${podLog}`);
    rmSync(work, { recursive: true, force: true });
  }
  console.log(
    `live update after /alexa (DOM change minus simulate returning; negative: the page changed before the Alexa answer arrived): placed ${timings.placed} ms, confirmed ${timings.confirmed} ms`,
  );
  console.log(`screenshots: ${shots}`);
}

finish(main);
