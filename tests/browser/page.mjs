// docqa serve's page in a real headless Chromium: ask and watch tokens arrive, stop, compare,
// open a source, add a file, search; every request must stay on the server under test.
// Usage: node page.mjs URL SCREENSHOT.png [quick]   (driven by tests/serve/test_page.py)
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import puppeteer from "puppeteer-core";

const [url, screenshot, mode = "full"] = process.argv.slice(2);
const executablePath = process.env.CHROMIUM || "/usr/bin/chromium-headless-shell";
const profile = mkdtempSync(join(tmpdir(), "docqa-chromium-"));
const browser = await puppeteer.launch({
  executablePath,
  headless: true,
  args: [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", `--user-data-dir=${profile}`,
  ],
});
const outside = [];
const report = {};
const check = (cond, what) => { if (!cond) throw new Error(`page check failed: ${what}`); };

function watch(page) {
  page.on("request", (request) => {
    const where = request.url();
    if (!where.startsWith(url + "/") && where !== url && !where.startsWith("data:")) outside.push(where);
  });
}

try {
  const page = await browser.newPage();
  watch(page);
  // a server with an API key: the page asks for it once (window.prompt) and keeps it in a cookie
  if (process.env.DOCQA_KEY) page.on("dialog", (dialog) => dialog.accept(process.env.DOCQA_KEY));
  browser.on("targetcreated", async (target) => { const p = await target.page(); if (p) watch(p); });
  await page.setViewport({ width: 1280, height: 900 });
  await page.goto(url + "/", { waitUntil: "networkidle0" });
  await page.waitForFunction(() => document.querySelectorAll("#model option").length > 1);
  report.models = await page.$$eval("#model option", (os) => os.map((o) => o.value));

  const lastBody = () => page.$$eval(".msg.assistant .body", (bs) => bs.length ? bs[bs.length - 1].textContent : "");
  const ask = async (question) => {
    await page.type("#question", question);
    await page.keyboard.press("Enter");
  };

  if (mode === "full") {
    // 1. tokens arrive one after another, then Stop really stops
    await ask("Tell me a long story about the boats");
    await page.waitForSelector(".msg.assistant.streaming");
    const early = (await lastBody()).length;
    await new Promise((r) => setTimeout(r, 600));
    const later = (await lastBody()).length;
    check(later > early && early > 0, `tokens arrive (${early} then ${later} characters)`);
    await page.click("#stop");
    await page.waitForSelector(".msg.assistant.stopped");
    const stopped = (await lastBody()).length;
    await new Promise((r) => setTimeout(r, 800));
    check((await lastBody()).length === stopped, "nothing arrives after Stop");
    report.stopped_after_chars = stopped;
  }

  // 2. a cited answer; its source opens the file at this server
  await ask("How many boats does the station own?");
  await page.waitForFunction(() => {
    const msgs = document.querySelectorAll(".msg.assistant:not(.compare)");
    const last = msgs[msgs.length - 1];
    return last && !last.classList.contains("streaming") && last.querySelector(".sources a");
  }, { timeout: 120000 });
  report.answer = await lastBody();
  report.label = await page.$$eval(".msg.assistant .label", (ls) => ls[ls.length - 1].textContent);
  if (screenshot) await page.screenshot({ path: screenshot, fullPage: false });
  if (mode === "full") {
    const opened = new Promise((resolve) => browser.once("targetcreated", resolve));
    const links = await page.$$(".msg.assistant .sources a");
    await links[links.length - 1].click();
    const tab = await (await opened).page();
    await tab.waitForFunction(() => document.readyState === "complete");
    report.opened = tab.url();
    check(report.opened.startsWith(url + "/documents/"), `a source opens ${report.opened}`);
    check((await tab.content()).includes("Boats"), "the opened source shows the document");
    await tab.close();

    // 3. compare: the bare model and the model with documents side by side, marked
    await page.click("#compare");
    await ask("How many boats does the station own?");
    await page.waitForSelector(".side-by-side .column .mark", { timeout: 120000 });
    report.marks = await page.$$eval(".side-by-side .mark", (ms) => ms.map((m) => m.textContent));
    check(report.marks.some((m) => m === "✓" || m === "~"), "compare shows support marks");
    await page.click("#compare");

    // 4. add a file, see the progress bar finish, then find it with the search box
    const file = join(profile, "kayaks.md");
    writeFileSync(file, "# Kayaks\n\nThe station rents three kayaks to visiting students.\n");
    const input = await page.$("#file");
    await input.uploadFile(file);
    await page.waitForFunction(() => document.querySelector("#ingest-note").textContent.includes("added 1"), { timeout: 60000 });
    report.progress = await page.$eval("#progress", (p) => [p.value, p.max]);
    check(report.progress[0] === report.progress[1], "the progress bar is full");
    await page.type("#query", "kayaks");
    await page.click("#search button");
    await page.waitForSelector("#hits li a");
    report.search = await page.$$eval("#hits li a", (as) => as.map((a) => a.textContent));
    check(report.search[0].startsWith("kayaks.md"), "the added file is found");
  }
  check(outside.length === 0, `requests outside the server: ${outside.join(", ")}`);
  console.log(JSON.stringify(report));
} finally {
  await browser.close();
  rmSync(profile, { recursive: true, force: true });
}
