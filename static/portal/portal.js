// The portal's own script: no inline handlers anywhere (CSP script-src 'self').
(function () {
  "use strict";
  // Confirm dangerous actions: <button data-confirm="确定要……吗？">
  document.addEventListener("click", function (event) {
    var target = event.target.closest("[data-confirm]");
    if (target && !window.confirm(target.getAttribute("data-confirm"))) {
      event.preventDefault();
      event.stopPropagation();
    }
  });
})();
