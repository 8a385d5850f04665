// SPDX-License-Identifier: MIT
// review-browser: opens the HTML of a `report --compare --format markdown`
// review in headless Chromium, checks the table and the linked picture, and
// saves a screenshot. Usage: node review-browser.mjs REVIEW.html SHOT.png FRAME
import { check, withPage } from "./browser-lib.mjs";
import { pathToFileURL } from "node:url";

const [htmlPath, shotPath, frame] = process.argv.slice(2);
await withPage({ viewport: { width: 1280, height: 900 } }, async (page) => {
    await page.goto(pathToFileURL(htmlPath).href);
    await page.waitForLoadState("load");
    const t = await page.evaluate(() => {
        const table = document.querySelector("table");
        if (!table) return null;
        const head = [...table.querySelectorAll("thead th")].map((c) => c.textContent.trim());
        const rows = [...table.querySelectorAll("tbody tr")].map((r) =>
            [...r.querySelectorAll("td")].map((c) => c.textContent.trim()));
        return { head, rows };
    });
    check(t !== null, "the markdown became an HTML table");
    if (t) {
        check(t.head.join("|") === "rank|function|before|after|change|\u00b1 99%|significant|samples",
              `header: ${t.head.join(" | ")}`);
        check(t.rows.length >= 3, `${t.rows.length} rows`);
        check(t.rows[0][1] === frame && t.rows[0][6] === "yes",
              `first row: ${t.rows[0].join(" | ")}`);
    }
    const summary = await page.textContent("p strong");
    check(/^total .* \u2192 .*; .* \((not )?significant\); \d+ of \d+ functions changed significantly$/
          .test(summary), `summary: ${summary}`);
    const img = await page.evaluate(() => {
        const i = document.querySelector("img");
        return i ? { src: i.getAttribute("src"), w: i.naturalWidth, h: i.naturalHeight } : null;
    });
    check(img !== null && img.w >= 1000 && img.h > 100,
          `the linked picture loads: ${img && `${img.src} ${img.w}x${img.h}`}`);
    const svgLink = await page.evaluate(() =>
        [...document.querySelectorAll("a")].map((a) => a.getAttribute("href")).find((h) =>
            h.endsWith(".svg")));
    check(!!svgLink, `the interactive SVG is linked: ${svgLink}`);
    await page.screenshot({ path: shotPath, fullPage: true });
    console.log(`screenshot: ${shotPath}`);
});
