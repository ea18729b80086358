(function () {
  const problems = [];
  const describe = (el) => el.tagName.toLowerCase() + (el.className ? "." + el.className : "") +
    " in #" + ((el.closest("section") || {}).id || "?");
  for (const cell of document.querySelectorAll("td, th")) {
    if (cell.scrollWidth > cell.clientWidth + 1) {
      problems.push("overflow " + describe(cell) + ": " + cell.textContent.slice(0, 60));
    }
  }
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const range = document.createRange();
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const parent = node.parentElement;
    if (!parent || parent.closest("svg, script, style")) continue;
    const text = node.textContent;
    const re = /\S+/g;
    let m;
    while ((m = re.exec(text))) {
      range.setStart(node, m.index);
      range.setEnd(node, m.index + m[0].length);
      const tops = new Set(Array.from(range.getClientRects()).filter(r => r.width > 0).map(r => Math.round(r.top)));
      if (tops.size < 2) continue;
      // A line may change between punctuation and a letter, never between two letters or
      // digits (mid-word), and never inside a date or time.
      let previousTop = null;
      for (let i = 0; i < m[0].length; i++) {
        range.setStart(node, m.index + i);
        range.setEnd(node, m.index + i + 1);
        const rect = range.getClientRects()[0];
        if (!rect) continue;
        const top = Math.round(rect.top);
        if (previousTop !== null && top !== previousTop) {
          const midWord = /[A-Za-z0-9]/.test(m[0][i - 1]) && /[A-Za-z0-9]/.test(m[0][i]);
          if (midWord || /\d{4}-\d\d-\d\d/.test(m[0])) {
            problems.push("broken word " + describe(parent) + ": " + m[0].slice(0, i) + " / " + m[0].slice(i, i + 30));
          }
        }
        previousTop = top;
      }
    }
  }
  const page = document.documentElement;
  if (page.scrollWidth > window.innerWidth + 1) problems.push("page wider than the window: " + page.scrollWidth + " > " + window.innerWidth);
  const out = document.createElement("pre");
  out.id = "layout-problems";
  out.textContent = JSON.stringify({width: window.innerWidth, problems: problems});
  document.body.appendChild(out);
})();
