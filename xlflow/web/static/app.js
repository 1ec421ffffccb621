// Drag-and-drop onto the upload box, the names chosen, and the upload's own progress bar.
(function () {
  function setup() {
    var drop = document.getElementById("drop");
    var input = document.getElementById("files");
    var chosen = document.getElementById("chosen");
    if (!drop || !input) return;
    function show() {
      var names = Array.prototype.map.call(input.files, function (f) { return f.name; });
      chosen.textContent = names.length ? "已选 " + names.length + " 个：" + names.join("、") : "";
    }
    input.addEventListener("change", show);
    ["dragenter", "dragover"].forEach(function (type) {
      drop.addEventListener(type, function (e) { e.preventDefault(); drop.classList.add("over"); });
    });
    ["dragleave", "drop"].forEach(function (type) {
      drop.addEventListener(type, function (e) { e.preventDefault(); drop.classList.remove("over"); });
    });
    drop.addEventListener("drop", function (e) {
      if (e.dataTransfer && e.dataTransfer.files.length) {
        input.files = e.dataTransfer.files;
        show();
      }
    });
    var bar = document.getElementById("upload-progress");
    document.body.addEventListener("htmx:xhr:progress", function (e) {
      if (!bar || !e.detail.lengthComputable) return;
      bar.hidden = false;
      bar.value = Math.round(100 * e.detail.loaded / e.detail.total);
    });
    document.body.addEventListener("htmx:responseError", function (e) {
      // a refusal (busy folder, too large, expired page) comes as a page: show its message
      var target = document.getElementById("job");
      var doc = new DOMParser().parseFromString(e.detail.xhr.responseText, "text/html");
      var message = doc.getElementById("error-message");
      if (target) {
        target.innerHTML = "";
        var p = document.createElement("p");
        p.className = "error-message";
        p.id = "error-message";
        p.textContent = message ? message.textContent : "操作未完成（" + e.detail.xhr.status + "）。";
        target.appendChild(p);
      }
      if (bar) bar.hidden = true;
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", setup);
  else setup();
})();
