// A page drawn in place of another (pages/run_page.py open_in_place) takes the address with pushState.
// Back and Forward to an address this document does not show load that address; a move within the
// page (#L500 line links) stays a move within the page.
(function () {
  let shown = location.pathname + location.search;
  window.runboardShowAddress = function (address) {
    history.pushState({ runboard: 'in-place' }, '', address);
    shown = location.pathname + location.search;
  };
  window.addEventListener('popstate', function () {
    if (location.pathname + location.search !== shown) location.reload();
  });
})();
