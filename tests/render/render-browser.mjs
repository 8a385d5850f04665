// SPDX-License-Identifier: MIT
// render-browser: drives an SVG from bt-flamegraph in headless Chromium:
// click to zoom, Reset Zoom, Ctrl-F search with "Matched: x%", tooltips,
// URL state and Esc. Usage: node render-browser.mjs GRAPH.svg PROFILE.folded XSS.svg
import { chromium } from "playwright-core";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const [svgPath, foldedPath, xssPath] = process.argv.slice(2);
let failures = 0, passes = 0;
function check(ok, what) {
    if (ok) {
        passes++;
        console.log(`ok: ${what}`);
    } else {
        failures++;
        console.log(`FAIL: ${what}`);
    }
}

// The expected share of samples whose stack has a frame matching `re`.
function share(re) {
    let total = 0, hit = 0;
    for (const line of readFileSync(foldedPath, "utf8").split("\n")) {
        const m = line.match(/^(.*) (\d+)$/);
        if (!m) continue;
        const n = Number(m[2]);
        total += n;
        if (m[1].split(";").some((f) => re.test(f))) hit += n;
    }
    return (100 * hit) / total;
}

const profile = mkdtempSync(join(tmpdir(), "bts-chromium-"));
const context = await chromium.launchPersistentContext(profile, {
    executablePath: "/usr/bin/chromium",
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
try {
    const page = context.pages()[0] || (await context.newPage());
    const alerts = [];
    page.on("dialog", async (d) => {
        if (d.type() === "prompt") await d.accept(page._answer || "");
        else {
            alerts.push(d.message());
            await d.dismiss();
        }
    });
    const errors = [];
    page.on("pageerror", (e) => errors.push(String(e)));

    // history.replaceState reaches page.url() late: ask the page.
    const href = () => page.evaluate(() => location.href);
    const url = pathToFileURL(svgPath).href;
    await page.goto(url);
    await page.waitForFunction(() => window.fg !== undefined);

    // Frame widths as drawn, keyed by "depth.x".
    const widths = () => page.evaluate(() => window.fg.frames.map(
        (f) => f.e.getBoundingClientRect().width));
    const frameBox = (name, nth = 0) => page.evaluate(([n, k]) => {
        const f = window.fg.frames.filter((x) => x.n === n)[k];
        const r = f.e.getBoundingClientRect();
        return { x: r.x, y: r.y, w: r.width, h: r.height, cls: f.e.getAttribute("class") };
    }, [name, nth]);
    const before = await widths();
    const root = await frameBox("all");
    check(before.length > 20, `graph has ${before.length} frames`);
    check(Math.abs(root.w - 1180) < 0.5, `root spans the graph (${root.w.toFixed(1)} px)`);

    // Tooltip: hovering shows name, samples and percent.
    const ind = await frameBox("bte_phase_indicators");
    await page.mouse.move(ind.x + ind.w / 2, ind.y + ind.h / 2);
    const details = await page.textContent("#details");
    check(/^Function: bte_phase_indicators \([\d,]+ samples, \d+\.\d\d%\)$/.test(details),
          `tooltip line: ${details}`);
    const title = await page.evaluate(() =>
        window.fg.frames.find((f) => f.n === "bte_phase_indicators").e.textContent);
    check(title === details.replace(/^Function: /, ""), "native tooltip has the same text");

    // Click to zoom: the frame becomes the full width.
    await page.mouse.click(ind.x + ind.w / 2, ind.y + ind.h / 2);
    const zoomed = await frameBox("bte_phase_indicators");
    check(Math.abs(zoomed.w - 1180) < 0.5, `zoomed frame is full width (${ind.w.toFixed(1)} -> ${zoomed.w.toFixed(1)} px)`);
    const sibling = await frameBox("bte_phase_history");
    check(sibling.cls === "hide", "a sibling frame is hidden while zoomed");
    const parent = await frameBox("bte_run_backtest");
    check(parent.cls === "parent" && Math.abs(parent.w - 1180) < 0.5, "ancestors span the width, faded");
    check(!(await page.getAttribute("#unzoom", "class")).includes("hide"), "Reset Zoom is shown");
    const zoomUrl = await href();
    check(/#x=\d+\.\d+/.test(zoomUrl), `zoom is kept in the URL (${zoomUrl.split("#")[1]})`);
    const label = await page.evaluate(() =>
        [...document.querySelectorAll("#labels text")].map((t) => t.textContent));
    check(label.includes("bte_sma_update"), "labels are redrawn for the zoomed view");

    // Reset Zoom restores the original widths.
    await page.click("#unzoom");
    const after = await widths();
    check(after.length === before.length && after.every((w, i) => Math.abs(w - before[i]) < 0.01),
          "Reset Zoom restores every width");
    check(!(await href()).includes("#x="), "zoom state left the URL");

    // Ctrl-F, a regex, "Matched:" = share of samples from the folded input.
    const term = "^bte_(macd|ema|sma)_update$"; // ema is also under macd
    page._answer = term;
    await page.keyboard.press("Control+f");
    await page.waitForFunction(() => document.getElementById("matched").textContent.trim() !== "");
    const matched = await page.textContent("#matched");
    const want = share(new RegExp(term));
    const got = Number((matched.match(/Matched: ([\d.]+)%/) || [])[1]);
    check(Math.abs(got - want) < 0.006, `${matched} (expected ${want.toFixed(3)}%, nested matches counted once)`);
    const purple = await page.evaluate(() => window.fg.frames.filter(
        (f) => f.e.getAttribute("fill") === "rgb(230,0,230)").length);
    check(purple > 0, `${purple} matching frames are highlighted`);
    check((await href()).includes("s=" + encodeURIComponent(term)), "search is kept in the URL");

    // State comes back from the URL: zoom on a frame, then reload.
    const ema = await frameBox("bte_ema_update");
    await page.mouse.click(ema.x + ema.w / 2, ema.y + ema.h / 2);
    const stateUrl = await href();
    await page.goto("about:blank");
    await page.goto(stateUrl);
    await page.waitForFunction(() => window.fg !== undefined);
    check((await page.textContent("#matched")) === matched, "search restored from the URL");
    const emaAgain = await frameBox("bte_ema_update");
    check(Math.abs(emaAgain.w - 1180) < 0.5, `zoom restored from the URL (${stateUrl.split("#")[1]}: ${emaAgain.w.toFixed(1)} px)`);

    // Esc clears both.
    await page.keyboard.press("Escape");
    check((await page.textContent("#matched")).trim() === "", "Esc clears the search");
    const reset = await widths();
    check(reset.every((w, i) => Math.abs(w - before[i]) < 0.01), "Esc resets the zoom");
    check(errors.length === 0, `no script errors (${errors.join("; ")})`);

    // A function named </text><script>alert(1)</script> is text, not code.
    await page.goto(pathToFileURL(xssPath).href);
    await page.waitForFunction(() => window.fg !== undefined);
    const scripts = await page.evaluate(() => document.querySelectorAll("script").length);
    const shown = await page.evaluate(() => window.fg.frames.some(
        (f) => f.n === "</text><script>alert(1)</script>"));
    check(scripts === 1 && shown && alerts.length === 0,
          "a name with markup is shown as text and runs nothing");
} finally {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
}
console.log(`${passes} passed, ${failures} failed`);
process.exit(failures ? 1 : 0);
