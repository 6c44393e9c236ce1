// Relative times and running durations tick in the browser, once a second, with no server round trip.
// Elements carry data-rb-time (an ISO time: "12 s ago"), data-rb-since (a running duration: "1:05") or
// data-rb-until (a time ahead: "in 4 min"),
// and an optional data-rb-prefix and data-rb-suffix. The same words as app/pages/theme.py relative() and duration().
// A time said relatively (data-rb-time, or data-rb-at where the server keeps the words) has the moment itself as its
// hover title, in the browser's own time zone and language, as GitHub's relative times do: "3 d ago" is not enough
// to tell two runs apart or to match a log line.
(() => {
  const seconds = (iso) => Math.floor((Date.now() - Date.parse(iso)) / 1000);
  const relative = (iso) => {
    const s = seconds(iso);
    if (!(s >= 5)) return 'just now';
    for (const [size, unit] of [[86400, 'd'], [3600, 'h'], [60, 'min']]) {
      if (s >= size) return `${Math.floor(s / size)} ${unit} ago`;
    }
    return `${s} s ago`;
  };
  const duration = (iso) => {
    const s = Math.max(0, seconds(iso));
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
    const pad = (n) => String(n).padStart(2, '0');
    return h ? `${h}:${pad(m)}:${pad(r)}` : `${m}:${pad(r)}`;
  };
  // a time ahead (data-rb-until): app/state/run_timing.py until_text()
  const until = (iso) => {
    const s = -seconds(iso);
    if (!(s >= 1)) return 'due now';
    for (const [size, unit] of [[86400, 'd'], [3600, 'h'], [60, 'min']]) {
      if (s >= size) return `in ${Math.floor(s / size)} ${unit}`;
    }
    return `in ${s} s`;
  };
  const textNode = (el) => {
    const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      if (node.nodeValue.trim()) return node;
    }
    return null;
  };
  const moment = (iso) => new Date(iso).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
  const titled = (el, iso) => {
    if (el.dataset.rbTitled === iso) return;
    el.title = moment(iso);
    el.dataset.rbTitled = iso;
  };
  const tick = () => {
    for (const el of document.querySelectorAll('[data-rb-at]')) titled(el, el.dataset.rbAt);
    for (const el of document.querySelectorAll('[data-rb-time],[data-rb-since],[data-rb-until]')) {
      if (el.dataset.rbTime) titled(el, el.dataset.rbTime);
      const text = (el.dataset.rbPrefix || '') + (el.dataset.rbUntil ? until(el.dataset.rbUntil) :
        el.dataset.rbSince ? duration(el.dataset.rbSince) : relative(el.dataset.rbTime)) + (el.dataset.rbSuffix || '');
      // change the text node Vue owns, so a later update from the server still lands. A link's text is not
      // its first child (Vue puts fragment comments first): replacing textContent there would leave Vue's
      // node beside ours, and the next render shows the time twice ("13 s ago10 s ago").
      const node = textNode(el);
      if (node) { if (node.nodeValue !== text) node.nodeValue = text; }
      else if (el.textContent !== text) el.textContent = text;
    }
  };
  setInterval(tick, 1000);
})();
