// SPDX-License-Identifier: MIT
// browser-lib: what the Chromium tests of diff and review pages share: a
// pass/fail tally and a headless Chromium in a throw-away profile.
import { chromium } from "playwright-core";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

let failures = 0, passes = 0;
export function check(ok, what) {
    if (ok) {
        passes++;
        console.log(`ok: ${what}`);
    } else {
        failures++;
        console.log(`FAIL: ${what}`);
    }
}

// Runs body(page) in a fresh headless Chromium, prints the tally and exits.
export async function withPage(options, body) {
    const profile = mkdtempSync(join(tmpdir(), "bts-chromium-"));
    const context = await chromium.launchPersistentContext(profile, {
        executablePath: "/usr/bin/chromium",
        headless: true,
        args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update",
               "--disable-sync", "--allow-file-access-from-files"],
        ...options,
    });
    try {
        await body(context.pages()[0] || (await context.newPage()));
    } finally {
        await context.close();
        rmSync(profile, { recursive: true, force: true });
    }
    console.log(`${passes} passed, ${failures} failed`);
    process.exit(failures ? 1 : 0);
}
