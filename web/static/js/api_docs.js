// Swagger UI for /console/api-docs, started from a file (the content security policy allows no inline script).
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    var root = document.getElementById("swagger-ui");
    if (!root || !window.SwaggerUIBundle) return;
    window.ui = window.SwaggerUIBundle({
      url: root.getAttribute("data-spec-url"),
      domNode: root,
      deepLinking: true,
      presets: [window.SwaggerUIBundle.presets.apis, window.SwaggerUIStandalonePreset],
      plugins: [window.SwaggerUIBundle.plugins.DownloadUrl],
      layout: "BaseLayout",           // no top bar: the page has its own header
      validatorUrl: null,             // never send the document to swagger.io
      showExtensions: true,           // x-error-codes per operation
      defaultModelsExpandDepth: 0,
      docExpansion: "list",
      tryItOutEnabled: false
    });
  });
})();
