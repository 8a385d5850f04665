// SPDX-License-Identifier: MIT
// memory-browser: a memory flame graph with its RSS chart in headless
// Chromium: the peak label says what report --memory says, the peak dot sits
// on the line's highest point, the label is inside the picture, tooltips
// read in bytes; saves a screenshot.
// Usage: node memory-browser.mjs MEM.svg REPORT.json FRAME SCREENSHOT.png
import { check, withPage } from "../render/browser-lib.mjs";
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";

const [svgPath, reportPath, frame, shot] = process.argv.slice(2);
const report = JSON.parse(readFileSync(reportPath, "utf8"));
const MIB = 1024 * 1024;

function bytes(n) {
    const u = ["KiB", "MiB", "GiB", "TiB"];
    if (n < 1024) return `${n} B`;
    let i = 0;
    n /= 1024;
    while (n >= 1024 && i < u.length - 1) {
        n /= 1024;
        i++;
    }
    return `${n.toFixed(1)} ${u[i]}`;
}
function time(s) {
    return s < 1 ? `${Math.floor(s * 1000 + 1e-6)} ms` : `${(Math.floor(s * 100 + 1e-6) / 100).toFixed(2)} s`;
}

const wantPeak = `peak ${bytes(report.peak_rss_bytes)} at ${time(report.peak_time_s)}`;
const row = report.functions.find((f) => f.function === frame);

await withPage({ viewport: { width: 1300, height: 700 } }, async (page) => {
    const errors = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    await page.goto(pathToFileURL(svgPath).href);
    await page.waitForFunction(() => window.fg !== undefined);

    const label = await page.textContent("#peak-label");
    check(label === wantPeak, `peak label "${label}" (report --memory: "${wantPeak}")`);

    const geo = await page.evaluate(() => {
        const pts = document.getElementById("rss").getAttribute("points").trim().split(" ")
            .map((p) => p.split(",").map(Number));
        const c = document.getElementById("peak");
        const lb = document.getElementById("peak-label").getBBox();
        const svg = document.documentElement;
        return { minY: Math.min(...pts.map((p) => p[1])), n: pts.length,
                 cy: +c.getAttribute("cy"), cx: +c.getAttribute("cx"),
                 label: { x: lb.x, w: lb.width }, width: +svg.getAttribute("width"),
                 rowsTop: document.getElementById("rows").getBBox().y,
                 chartBottom: document.querySelector("#memory rect").getBBox().y +
                     document.querySelector("#memory rect").getBBox().height };
    });
    check(geo.n >= 2, `the RSS line has ${geo.n} points`);
    check(Math.abs(geo.minY - geo.cy) <= 0.6, `the peak dot (y ${geo.cy}) is on the line's top (y ${geo.minY})`);
    check(geo.label.x >= 0 && geo.label.x + geo.label.w <= geo.width,
          `the peak label (x ${geo.label.x.toFixed(0)}..${(geo.label.x + geo.label.w).toFixed(0)}) is inside the ${geo.width} px picture`);
    check(geo.chartBottom <= geo.rowsTop, `the chart (bottom ${geo.chartBottom}) is above the graph (top ${geo.rowsTop.toFixed(0)})`);

    const box = await page.evaluate((n) => {
        const f = window.fg.frames.find((x) => x.n === n);
        if (!f) return null;
        const r = f.e.getBoundingClientRect();
        return { x: r.x, y: r.y, w: r.width, h: r.height };
    }, frame);
    check(box !== null && row !== undefined, `${frame} is drawn and in the report`);
    // Byte counts pass 2^25, where browsers' fixed-point geometry saturates.
    const all = await page.evaluate(() =>
        window.fg.frames.find((x) => x.n === "all").e.getBoundingClientRect().width);
    check(all > 1170, `the root frame spans the graph (${all.toFixed(0)} px)`);
    if (box && row) {
        await page.mouse.move(box.x + box.w / 2, box.y + box.h / 2);
        const details = await page.textContent("#details");
        const want = `Function: ${frame} (${bytes(row.total_bytes)}, ${row.total_percent.toFixed(2)}%)`;
        check(details === want, `details line "${details}" (want "${want}")`);
        await page.mouse.move(5, 5);
    }
    await page.screenshot({ path: shot });
    console.log(`screenshot: ${shot}`);
    check(errors.length === 0, `no script errors ${errors.join("; ")}`);
});
