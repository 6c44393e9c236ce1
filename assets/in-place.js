// A page drawn in place of another (pages/run_page.py open_in_place) takes the address with pushState.
// Back and Forward to an address this document does not show load that address; a move within the
// page (#L500 line links) stays a move within the page.
// The keyboard's place is kept (docs/accessibility.md): a page drawn in place puts the focus on its heading, as a
// page load would start there, and a control redrawn away with the focus on it (Stop, once its run has stopped)
// hands the focus to its successor instead of dropping it on the page.
(function () {
  let shown = location.pathname + location.search;
  let lastFocused = null;  // what had the focus last, also once it has been removed
  let replacedWithPage = null;  // what had it when this page was drawn in place: its loss is runboardShowAddress's
  // a dialog (Stop run?) gives the focus back to what opened it when it closes; if the header was redrawn meanwhile,
  // that control may be gone, and the focus would fall on the page: the header's new action takes it instead.
  // Watched with a MutationObserver: the dialog's removal is the change that drops its focus
  const inDialog = (element) => Boolean(element && element.closest && element.closest('.q-dialog'));
  document.addEventListener('focusin', (event) => { lastFocused = event.target; });
  function handOnWhenDialogCloses(actionId) {
    const watch = new MutationObserver(() => {
      const active = document.activeElement;
      if (inDialog(active) && active.isConnected) return;  // still open
      watch.disconnect();
      const next = getHtmlElement(actionId);  // none once a later redraw replaced it (that redraw's watch hands on)
      if ((!active || active === document.body) && next) next.focus();
    });
    watch.observe(document.body, { childList: true, subtree: true });
  }
  // once NiceGUI has drawn what came with this message and the focused control has gone: tried on each frame for
  // a second at most (the drawing may come a frame or two after this message)
  function whenLost(then, frames = 60) {
    requestAnimationFrame(() => {
      const active = document.activeElement;
      if (!active || active === document.body || !active.isConnected) then();
      else if (frames > 0) whenLost(then, frames - 1);
    });
  }
  window.runboardShowAddress = function (address) {
    history.pushState({ runboard: 'in-place' }, '', address);
    shown = location.pathname + location.search;
    replacedWithPage = lastFocused;
    whenLost(() => {
      const heading = document.querySelector('[role=heading][aria-level="1"]');
      if (!heading) return;
      heading.setAttribute('tabindex', '-1');  // focusable from here, not a Tab stop
      heading.focus();
    });
  };
  // the redrawn heading's successor is the new heading; any other control's, the new action (Retry, Stop). Watched
  // with a MutationObserver, whose callback runs right after the redraw's DOM change and before any other task, so
  // the focus never rests on the page in between (a screen reader would say "document"; a key pressed then is lost)
  window.runboardKeepFocus = function (actionId, headingId) {
    const handOn = () => {  // true: done (handed on, or the focus is not on something redrawn away)
      if (!lastFocused || lastFocused.isConnected) return false;  // not redrawn yet, or never had the focus
      // the Run button of the page this one replaced: the focus goes to the new page's heading, not to Stop
      if (lastFocused === replacedWithPage) return true;
      const active = document.activeElement;
      if (active && active !== document.body && active.isConnected) return true;  // it has moved on by itself
      const next = getHtmlElement(lastFocused.matches('[role=heading]') ? headingId : actionId);
      if (next) next.focus();
      return Boolean(next);
    };
    if (inDialog(document.activeElement)) {
      handOnWhenDialogCloses(actionId);
      return;
    }
    if (handOn()) return;
    const watch = new MutationObserver(() => { if (handOn()) watch.disconnect(); });
    watch.observe(document.body, { childList: true, subtree: true });
    setTimeout(() => watch.disconnect(), 1000);  // the redraw comes with this message or a frame or two after
  };
  window.addEventListener('popstate', function () {
    if (location.pathname + location.search !== shown) location.reload();
  });
})();
