// Registry pages (CSP script-src 'self': no inline scripts).
(function () {
  "use strict";
  // 号码登记：选择已登记的合作单位时，带出其统一社会信用代码和委托书编号。
  var name = document.getElementById("id_user_name");
  var list = document.getElementById("registry-user-names");
  var code = document.getElementById("id_user_credit_code");
  var doc = document.getElementById("id_document_number");
  if (name && list && code) {
    name.addEventListener("change", function () {
      var value = name.value.trim();
      if (value === "本机构") { code.value = ""; return; }
      var options = list.querySelectorAll("option[data-credit-code]");
      for (var i = 0; i < options.length; i++) {
        if (options[i].value === value) {
          code.value = options[i].getAttribute("data-credit-code");
          if (doc && !doc.value) { doc.value = options[i].getAttribute("data-document-number") || ""; }
          return;
        }
      }
    });
  }
  // 批量导入：选择“替换”时，提交前再确认一次（替换会终止文件中没有的在用号码）。
  var importForm = document.querySelector("form[data-testid='import-form']");
  if (importForm) {
    importForm.addEventListener("submit", function (event) {
      var replace = importForm.querySelector("input[name='mode'][value='replace']");
      if (replace && replace.checked &&
          !window.confirm("替换方式将终止本机构在用、但文件中没有的全部号码。确定继续吗？")) {
        event.preventDefault();
      }
    });
  }
})();
