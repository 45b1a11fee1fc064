// Report upload: drag a PDF onto the drop zone (or pick it), sent with XMLHttpRequest so a progress bar
// can show how far it is. Without this script the same form posts the file as a plain multipart form.
(function () {
  "use strict";

  function sizeText(bytes) {
    return bytes < 1048576 ? Math.max(1, Math.round(bytes / 1024)) + " KB" : (bytes / 1048576).toFixed(1) + " MB";
  }

  function setup(form) {
    var zone = form.querySelector("[data-drop-zone]");
    var input = form.querySelector("input[type=file]");
    var progress = form.querySelector(".progress");
    var bar = progress.querySelector(".progress-bar");
    var message = form.querySelector("[data-upload-message]");
    var nameLine = form.querySelector("[data-file-name]");
    var button = form.querySelector("button[type=submit]");
    var maxBytes = parseInt(form.getAttribute("data-max-bytes"), 10) || 0;
    var chosen = null;

    function showError(text) {
      message.textContent = text;
      message.classList.toggle("d-none", !text);
    }

    function problemWith(file) {
      if (!file) return "请选择或拖入 PDF 格式的检测报告。";
      if (!/\.pdf$/i.test(file.name) && file.type !== "application/pdf") return "报告须为 PDF 文件。";
      if (maxBytes && file.size > maxBytes) return "报告文件超过 " + Math.floor(maxBytes / 1048576) + " MB。";
      return "";
    }

    function choose(file) {
      chosen = file || null;
      nameLine.textContent = chosen ? "已选择：" + chosen.name + "（" + sizeText(chosen.size) + "）" : "";
      showError(chosen ? problemWith(chosen) : "");
    }

    function setProgress(percent) {
      bar.style.width = percent + "%";
      bar.textContent = percent + "%";
      progress.setAttribute("aria-valuenow", String(percent));
    }

    ["dragenter", "dragover"].forEach(function (name) {
      zone.addEventListener(name, function (event) { event.preventDefault(); zone.classList.add("dragover"); });
    });
    ["dragleave", "drop"].forEach(function (name) {
      zone.addEventListener(name, function () { zone.classList.remove("dragover"); });
    });
    zone.addEventListener("drop", function (event) {
      event.preventDefault();
      var files = event.dataTransfer && event.dataTransfer.files;
      if (!files || !files.length) return;
      try { input.files = files; } catch (ignored) { /* old browsers: the dropped file is still sent below */ }
      choose(files[0]);
    });
    input.addEventListener("change", function () { choose(input.files[0]); });

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      event.stopPropagation();  // app.js's double-submit guard is replaced by the button's own state here
      var file = chosen || input.files[0];
      var problem = problemWith(file);
      if (problem) { showError(problem); return; }
      if (button.disabled) return;
      button.disabled = true;
      showError("");
      setProgress(0);
      progress.classList.remove("d-none");

      var data = new FormData(form);
      data.set("file", file, file.name);
      var xhr = new XMLHttpRequest();
      xhr.open("POST", form.action);
      xhr.setRequestHeader("Accept", "application/json");
      xhr.upload.addEventListener("progress", function (e) {
        if (e.lengthComputable) setProgress(Math.round(e.loaded * 100 / e.total));
      });
      xhr.addEventListener("load", function () {
        var answer = null;
        try { answer = JSON.parse(xhr.responseText); } catch (ignored) { answer = null; }
        if (xhr.status >= 200 && xhr.status < 300 && answer && answer.redirect) {
          setProgress(100);
          window.location.href = answer.redirect;
          return;
        }
        var text = answer && answer.error && answer.error.message;
        fail(text || (xhr.status === 413 ? "报告文件太大，未能上传。" : "上传失败（HTTP " + xhr.status + "），请重试。"));
      });
      xhr.addEventListener("error", function () { fail("网络中断，报告未上传，请重试。"); });
      xhr.send(data);
    });

    function fail(text) {
      progress.classList.add("d-none");
      button.disabled = false;
      showError(text);
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("form[data-upload]").forEach(setup);
  });
})();
