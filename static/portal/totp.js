// Draws the otpauth:// URI as a QR code for authenticator apps (qrcode-generator, MIT).
(function () {
  "use strict";
  var box = document.getElementById("totp-qr");
  if (!box || typeof qrcode === "undefined") { return; }
  var qr = qrcode(0, "M");
  qr.addData(box.getAttribute("data-uri"));
  qr.make();
  box.innerHTML = qr.createSvgTag({ cellSize: 4, margin: 2, scalable: false });
})();
