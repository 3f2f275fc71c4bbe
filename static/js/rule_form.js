// The rule form in the back office: choosing a rule type reloads the page with that type's
// parameter fields (?rule_type=...). Without this script the JSON field still works.
(function () {
  "use strict";
  function init() {
    var select = document.getElementById("id_rule_type");
    if (!select || !document.getElementById("compliancerule_form")) {
      return;
    }
    select.addEventListener("change", function () {
      var url = new URL(window.location.href);
      url.searchParams.set("rule_type", select.value);
      window.location.assign(url.toString());
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
