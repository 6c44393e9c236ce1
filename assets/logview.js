// The run page's log viewer (app/pages/log_view.py). The server sends rows [seq, kind, html, at] (the html
// is escaped text with colour spans, app/state/log_rows.py) and says which range to keep; this draws each
// row with a gutter (line number link, time), a copy button, search marks, foldable stage groups and
// `::group::` folds (closed until opened; a group ends at `::endgroup::`, the next group or the next stage;
// the `endgroup` row itself is never drawn), in the browser, with no round trip. It never holds more rows than the server's window (app/state/timeline.py).
const TIMES_KEY = "runboard.log.timestamps";
let views = 0;

// the rows a log search looks in: what GET /runs/{id}/search matches (app/services/output_search.py)
const SEARCHED = ".rb-k-output, .rb-k-annotation, .rb-k-stage, .rb-k-group";
const KINDS = new Set(["output", "stage", "status", "group", "endgroup", "annotation"]);
const escapeText = (text) =>
  String(text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
const pad = (n, size = 2) => String(n).padStart(size, "0");
const clock = (iso) => {
  const at = new Date(iso);
  if (Number.isNaN(at.getTime())) return "";
  return `${pad(at.getHours())}:${pad(at.getMinutes())}:${pad(at.getSeconds())}.${pad(at.getMilliseconds(), 3)}`;
};

export default {
  template: `<div tabindex="0" @click="onClick" @keydown="onKey" @focusin="onFocusIn"><div ref="rows"></div></div>`,
  mounted() {
    this.query = "";
    this.currentSeq = null;
    this.selectedSeq = null;
    this.activeRow = null;
    this.collapsed = new Set();
    this.opened = new Set(); // the ::group:: folds opened (closed by default, as GitHub's)
    this.scope = `rb-lv-${++views}`;
    this.box = this.$refs.rows; // our own classes live here: Vue re-renders the root's class
    this.box.className = `rb-rows ${this.scope}`;
    this.sheet = document.createElement("style");
    document.head.appendChild(this.sheet);
    this.onHash = () => this.$emit("hash", { hash: location.hash });
    window.addEventListener("hashchange", this.onHash);
    this.restyle(); // ::group:: lines are hidden from the first row on
    this.setTimes(localStorage.getItem(TIMES_KEY) === "1");
    this.$emit("times", { on: this.showTimes });
  },
  unmounted() {
    window.removeEventListener("hashchange", this.onHash);
    this.sheet.remove();
  },
  methods: {
    // -- rows in and out
    rowHtml([seq, kind, html, at]) {
      // one string for a whole page of rows (much faster than building each node): seq is a number, kind
      // one of three words, at escaped here, html escaped on the server; icons are CSS, not DOM
      const n = Number(seq);
      const k = KINDS.has(kind) ? kind : "output";
      const time = at ? `<span class="rb-at" title="${escapeText(at)}">${clock(at)}</span>` : '<span class="rb-at"></span>';
      const fold =
        k === "stage" || k === "group" ? '<button type="button" class="rb-fold" tabindex="-1" aria-expanded="true"></button>' : "";
      return (
        `<div class="rb-line rb-k-${k}" id="L${n}" data-seq="${n}" tabindex="-1">` +
        `<a class="rb-ln" href="#L${n}" data-n="${n}" tabindex="-1" aria-label="Line ${n}"></a>${time}${fold}` +
        `<span class="rb-text">${html}</span>` +
        `<button type="button" class="rb-copy" tabindex="-1" title="Copy line" aria-label="Copy line ${n}"></button></div>`
      );
    },
    build(rows) {
      const template = document.createElement("template");
      template.innerHTML = rows.map((r) => this.rowHtml(r)).join("");
      const fragment = template.content;
      for (const header of fragment.querySelectorAll(".rb-k-stage")) {
        this.labelFold(header, this.collapsed.has(header.dataset.seq));
      }
      for (const header of fragment.querySelectorAll(".rb-k-group")) this.labelGroup(header, this.opened.has(header.dataset.seq));
      if (this.query) for (const row of fragment.querySelectorAll(SEARCHED)) this.mark(row);
      return fragment;
    },
    labelFold(header, folded) {
      const name = header.querySelector(".rb-text").textContent;
      const button = header.querySelector(".rb-fold");
      button.setAttribute("aria-expanded", String(!folded));
      button.setAttribute("aria-label", `${folded ? "Unfold" : "Fold"} stage ${name}`);
      header.classList.toggle("rb-folded", folded);
    },
    labelGroup(header, open) {
      const name = header.querySelector(".rb-text").textContent;
      const button = header.querySelector(".rb-fold");
      button.setAttribute("aria-expanded", String(open));
      button.setAttribute("aria-label", `${open ? "Close" : "Open"} group ${name}`);
      header.classList.toggle("rb-open", open);
    },
    groupOf(row) {
      if (!row) return "";
      return row.classList.contains("rb-k-stage") ? row.dataset.seq : row.dataset.group || "";
    },
    foldOf(row) {
      // the ::group:: a row below `row` is in: the one `row` opens or is in; none after an end or a stage
      if (!row || row.classList.contains("rb-k-stage") || row.classList.contains("rb-k-endgroup")) return "";
      return row.classList.contains("rb-k-group") ? row.dataset.seq : row.dataset.fold || "";
    },
    regroup(from = null) {
      // a row belongs to the stage header above it (rows above the window's first header: to none), and to
      // the ::group:: opened above it until an endgroup, another group or a stage ends that
      const before = from ? from.previousElementSibling : null;
      let group = this.groupOf(before);
      let fold = this.foldOf(before);
      for (let row = from || this.box.firstElementChild; row; row = row.nextElementSibling) {
        const k = row.classList;
        if (k.contains("rb-k-stage")) {
          group = row.dataset.seq;
          fold = "";
        } else if (row.dataset.group !== group) row.dataset.group = group;
        if (k.contains("rb-k-group") || k.contains("rb-k-endgroup") || k.contains("rb-k-stage")) {
          delete row.dataset.fold; // a group's header shows while the group is closed
          fold = k.contains("rb-k-group") ? row.dataset.seq : "";
        } else if (fold) {
          if (row.dataset.fold !== fold) row.dataset.fold = fold;
        } else delete row.dataset.fold;
      }
    },
    atBottom() {
      const el = this.$el;
      return el.scrollHeight - el.scrollTop - el.clientHeight < 24;
    },
    toBottom() {
      this.$el.scrollTop = this.$el.scrollHeight;
    },
    gutter(rows) {
      // the line-number column fits the longest number shown, so the text does not shift between lines
      if (rows.length) this.box.style.setProperty("--rb-digits", Math.max(3, String(rows[rows.length - 1][0]).length));
    },
    replace(rows, bottom) {
      this.gutter(rows);
      this.box.replaceChildren(this.build(rows));
      this.activeRow = null;
      this.regroup();
      if (bottom) this.toBottom();
    },
    append(rows, stick) {
      const wasAtBottom = this.atBottom();
      this.gutter(rows);
      const fragment = this.build(rows);
      const first = fragment.firstElementChild;
      this.box.append(fragment);
      this.regroup(first);
      if (stick && wasAtBottom) this.toBottom();
    },
    prepend(rows) {
      const before = this.$el.scrollHeight;
      this.box.prepend(this.build(rows));
      this.regroup();
      this.$el.scrollTop += this.$el.scrollHeight - before; // what was on screen stays on screen
    },
    keep(first, last) {
      // the server's window: drop rows outside first..last, keeping what is on screen where it is
      const box = this.box;
      const heightBefore = this.$el.scrollHeight;
      let removedAbove = false;
      while (box.firstElementChild && Number(box.firstElementChild.dataset.seq) < first) {
        box.firstElementChild.remove();
        removedAbove = true;
      }
      while (box.lastElementChild && Number(box.lastElementChild.dataset.seq) > last) box.lastElementChild.remove();
      if (!removedAbove) return;
      if (!this.atBottom()) this.$el.scrollTop -= heightBefore - this.$el.scrollHeight;
      // rows above the first header left: their header went with the rows above
      for (let row = box.firstElementChild; row && !row.classList.contains("rb-k-stage"); row = row.nextElementSibling) {
        row.dataset.group = "";
      }
      // and rows whose ::group:: header left show: nothing above them could open them
      for (let row = box.firstElementChild; row && row.dataset.fold; row = row.nextElementSibling) delete row.dataset.fold;
    },
    clear() {
      this.box.replaceChildren();
      this.activeRow = null;
    },
    row(seq) {
      return this.box.querySelector(`[data-seq="${Number(seq)}"]`);
    },

    // -- pointing at a line: a #L link, the current search match
    reveal(row) {
      if (this.collapsed.has(row.dataset.group)) this.fold(row.dataset.group, false);
      if (row.dataset.fold && !this.opened.has(row.dataset.fold)) this.openGroup(row.dataset.fold, true);
      const el = this.$el; // the line in the middle of the log; the page itself moves only if the line is off screen
      el.scrollTop = row.offsetTop - (el.clientHeight - row.offsetHeight) / 2;
      const line = row.getBoundingClientRect(); // a short log's line can sit below the fold with the log's top shown
      if (line.top < 0 || line.bottom > window.innerHeight) row.scrollIntoView({ block: "center" });
    },
    select(seq) {
      this.box.querySelector(".rb-selected")?.classList.remove("rb-selected");
      this.selectedSeq = seq;
      const row = this.row(seq);
      if (!row) return;
      row.classList.add("rb-selected");
      this.reveal(row);
    },
    current(seq) {
      this.box.querySelector(".rb-current")?.classList.remove("rb-current");
      this.box.querySelector(".rb-hit-now")?.classList.remove("rb-hit-now");
      this.currentSeq = seq;
      const row = this.row(seq);
      if (!row) return;
      row.classList.add("rb-current");
      row.querySelector("mark.rb-hit")?.classList.add("rb-hit-now");
      this.reveal(row);
    },

    // -- search marks: the text nodes of a row (across colour spans) searched in any case
    search(query) {
      this.query = query || "";
      this.currentSeq = null;
      this.box.querySelector(".rb-current")?.classList.remove("rb-current");
      for (const row of this.box.querySelectorAll(SEARCHED)) this.mark(row);
    },
    mark(row) {
      const text = row.querySelector(".rb-text");
      if (row.rbMarked) {
        text.innerHTML = row.rbHtml; // as the server sent it
        row.rbMarked = false;
      }
      if (!this.query) return;
      const needle = this.query.toLowerCase();
      const nodes = [];
      let all = "";
      const walker = document.createTreeWalker(text, NodeFilter.SHOW_TEXT);
      for (let node = walker.nextNode(); node; node = walker.nextNode()) {
        nodes.push([node, all.length]);
        all += node.nodeValue;
      }
      const hay = all.toLowerCase();
      if (hay.length !== all.length) return; // a case mapping that changes lengths: no marks to place
      const hits = [];
      for (let i = hay.indexOf(needle); i >= 0; i = hay.indexOf(needle, i + needle.length)) hits.push(i);
      if (!hits.length) return;
      row.rbHtml = text.innerHTML;
      row.rbMarked = true;
      for (let h = hits.length - 1; h >= 0; h--) this.wrap(nodes, hits[h], hits[h] + needle.length);
      if (Number(row.dataset.seq) === this.currentSeq) row.querySelector("mark.rb-hit")?.classList.add("rb-hit-now");
    },
    wrap(nodes, start, end) {
      // from the last text node back, so the earlier nodes (and earlier hits) keep their offsets
      for (let k = nodes.length - 1; k >= 0; k--) {
        const [node, offset] = nodes[k];
        const a = Math.max(start, offset);
        const b = Math.min(end, offset + node.nodeValue.length);
        if (a >= b) continue;
        if (b - offset < node.nodeValue.length) node.splitText(b - offset);
        const middle = a > offset ? node.splitText(a - offset) : node;
        const mark = document.createElement("mark");
        mark.className = "rb-hit";
        middle.parentNode.insertBefore(mark, middle);
        mark.appendChild(middle);
      }
    },

    // -- stage groups, folded by one CSS rule each
    fold(group, folded) {
      if (!group) return;
      if (folded) this.collapsed.add(group);
      else this.collapsed.delete(group);
      this.restyle();
      const header = this.row(group);
      if (header) this.labelFold(header, folded);
    },
    openGroup(fold, open) {
      if (!fold) return;
      if (open) this.opened.add(fold);
      else this.opened.delete(fold);
      this.restyle();
      const header = this.row(fold);
      if (header) this.labelGroup(header, open);
    },
    restyle() {
      // one rule per folded stage, and one for every ::group:: line not in an opened group
      const open = [...this.opened].map((g) => `:not([data-fold="${Number(g)}"])`).join("");
      this.sheet.textContent = [...this.collapsed]
        .map((g) => `.${this.scope} .rb-line[data-group="${Number(g)}"] { display: none; }`)
        .concat([`.${this.scope} .rb-line[data-fold]${open} { display: none; }`])
        .join("\n");
    },

    // -- timestamps, remembered per browser
    setTimes(on) {
      this.showTimes = Boolean(on);
      this.box.classList.toggle("rb-show-time", this.showTimes);
      localStorage.setItem(TIMES_KEY, this.showTimes ? "1" : "0");
    },

    // -- copying
    flash(button) {
      button.classList.add("rb-copied");
      setTimeout(() => button.classList.remove("rb-copied"), 1500);
    },
    async copyLine(row, button) {
      try {
        await navigator.clipboard.writeText(row.querySelector(".rb-text").textContent);
        this.flash(button);
        this.$emit("copied", { what: `line ${row.dataset.seq}` });
      } catch (error) {
        this.$emit("copy_failed", { message: String(error?.message || error) });
      }
    },
    async copyAll(url) {
      // the whole raw log from the server (not just the window), fetched inside the click's gesture
      const body = fetch(url, { credentials: "same-origin", cache: "no-store" }).then((reply) => {
        if (!reply.ok) throw new Error(`the server answered ${reply.status}`);
        return reply.text();
      });
      try {
        if (window.ClipboardItem && navigator.clipboard.write) {
          const blob = body.then((text) => new Blob([text], { type: "text/plain" }));
          await navigator.clipboard.write([new ClipboardItem({ "text/plain": blob })]);
        } else {
          await navigator.clipboard.writeText(await body);
        }
        const text = await body;
        const lines = text ? text.split("\n").length - (text.endsWith("\n") ? 1 : 0) : 0;
        this.$emit("copied", { what: "all", lines });
      } catch (error) {
        this.$emit("copy_failed", { message: String(error?.message || error) });
      }
    },

    // -- pointer and keyboard
    onClick(event) {
      const row = event.target.closest(".rb-line");
      if (!row) return;
      if (event.target.closest(".rb-ln")) {
        event.preventDefault(); // a copyable link, without the browser's jump
        history.replaceState(history.state, "", `#L${row.dataset.seq}`);
        this.select(Number(row.dataset.seq));
        return;
      }
      const copy = event.target.closest(".rb-copy");
      if (copy) {
        this.copyLine(row, copy);
        return;
      }
      if (row.classList.contains("rb-k-stage") && !window.getSelection()?.toString()) {
        this.fold(row.dataset.seq, !this.collapsed.has(row.dataset.seq));
      }
      if (row.classList.contains("rb-k-group") && !window.getSelection()?.toString()) {
        this.openGroup(row.dataset.seq, !this.opened.has(row.dataset.seq));
      }
    },
    onKey(event) {
      const row = event.target.closest?.(".rb-line");
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        const down = event.key === "ArrowDown";
        let next = row ? (down ? row.nextElementSibling : row.previousElementSibling) : this.firstOnScreen();
        while (next && !next.getClientRects().length) next = down ? next.nextElementSibling : next.previousElementSibling;
        if (next) {
          event.preventDefault();
          next.focus();
          next.scrollIntoView({ block: "nearest" });
        }
      } else if ((event.key === "Enter" || event.key === " ") && row === event.target && row.classList.contains("rb-k-stage")) {
        event.preventDefault();
        this.fold(row.dataset.seq, !this.collapsed.has(row.dataset.seq));
      } else if ((event.key === "Enter" || event.key === " ") && row === event.target && row.classList.contains("rb-k-group")) {
        event.preventDefault();
        this.openGroup(row.dataset.seq, !this.opened.has(row.dataset.seq));
      }
    },
    firstOnScreen() {
      const top = this.$el.getBoundingClientRect().top;
      for (const row of this.box.children) if (row.getClientRects().length && row.getBoundingClientRect().bottom > top) return row;
      return null;
    },
    onFocusIn(event) {
      // one row at a time is in the tab order (with its link and buttons): Tab leaves the log after it
      const row = event.target.closest(".rb-line");
      if (!row || row === this.activeRow) return;
      for (const [r, index] of [
        [this.activeRow, -1],
        [row, 0],
      ]) {
        if (!r || !r.isConnected) continue;
        r.tabIndex = index;
        for (const control of r.querySelectorAll("a, button")) control.tabIndex = index;
      }
      this.activeRow = row;
    },
  },
};
