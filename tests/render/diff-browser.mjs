// SPDX-License-Identifier: MIT
// diff-browser: drives a `bt-spy diff` SVG in headless Chromium: the frame
// that shrank is drawn, in blue; hovering it gives both counts, both shares
// and the change; the subtitle names both inputs.
// Usage: node diff-browser.mjs DIFF.svg BEFORE.folded AFTER.folded FRAME
import { check, withPage } from "./browser-lib.mjs";
import { readFileSync } from "node:fs";
import { basename } from "node:path";
import { pathToFileURL } from "node:url";

const [svgPath, beforePath, afterPath, frame] = process.argv.slice(2);

// All samples of a folded file, and those whose stack has `name`.
function counts(path, name) {
    let total = 0, hit = 0;
    for (const line of readFileSync(path, "utf8").split("\n")) {
        const m = line.match(/^(.*) (\d+)$/);
        if (!m) continue;
        total += Number(m[2]);
        if (m[1].split(";").includes(name)) hit += Number(m[2]);
    }
    return { total, hit };
}

const b = counts(beforePath, frame), a = counts(afterPath, frame);
const pb = (100 * b.hit) / b.total, pa = (100 * a.hit) / a.total, d = pa - pb;
const sign = d < 0 ? "\u2212" : "+";
const want = `${frame}: ${b.hit} \u2192 ${a.hit} samples, ${pb.toFixed(1)}% \u2192 ` +
    `${pa.toFixed(1)}%, ${sign}${Math.abs(d).toFixed(1)} pp`;

await withPage({}, async (page) => {
    const errors = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    await page.goto(pathToFileURL(svgPath).href);
    await page.waitForFunction(() => window.fg !== undefined && window.fg.info !== undefined);

    const box = await page.evaluate((n) => {
        const f = window.fg.frames.find((x) => x.n === n);
        if (!f) return null;
        const r = f.e.getBoundingClientRect();
        return { x: r.x, y: r.y, w: r.width, h: r.height, fill: f.e.getAttribute("fill") };
    }, frame);
    check(box !== null, `${frame} is drawn`);
    if (box) {
        // Widths are the larger of the two shares: at least its BEFORE share
        // of the 1180 px graph (the root may be wider than 100%).
        check(box.w >= (pb / 100) * 1180 * 0.5, `${frame} is ${box.w.toFixed(0)} px wide`);
        const rgb = box.fill.match(/^#(..)(..)(..)$/).slice(1).map((h) => parseInt(h, 16));
        check(rgb[2] > rgb[0] + 100, `${frame} is blue (${box.fill})`);

        await page.mouse.move(box.x + box.w / 2, box.y + box.h / 2);
        const details = await page.textContent("#details");
        check(details === `Function: ${want}`, `details line: ${details}`);
        const title = await page.evaluate((n) =>
            window.fg.frames.find((x) => x.n === n).e.textContent, frame);
        check(title === want, `native tooltip: ${title}`);
    }
    const subtitle = await page.textContent("#subtitle");
    const wantSub = `before: ${basename(beforePath)}: ${b.total} samples \u00b7 ` +
        `after: ${basename(afterPath)}: ${a.total} samples`;
    check(subtitle === wantSub, `subtitle: ${subtitle}`);

    // A frame whose change is noise says so.
    const pale = await page.evaluate(() => {
        const f = window.fg.frames.find((x) => x.e.getAttribute("s") !== "1" &&
            !/\(no change\)$/.test(window.fg.info(x)));
        return f ? window.fg.info(f) : null;
    });
    if (pale !== null)
        check(/ \(not significant at 99%\)$/.test(pale), `a pale frame: ${pale}`);
    check(errors.length === 0, `no page errors ${errors.join("; ")}`);
});
