// Swagger UI over the served OpenAPI document. Everything is loaded from this server
// (server/static/vendor/swagger-ui, see vendor/README.md); the validator badge is off so the
// page never calls out to validator.swagger.io.
"use strict";
(function () {
  var root = document.getElementById("swagger-ui");
  if (typeof window.SwaggerUIBundle !== "function") {
    root.innerHTML = "<p class='docs-loading'>Swagger UI could not load; the plain route list below still works.</p>";
    document.getElementById("plain-routes").open = true;
    return;
  }
  window.ui = window.SwaggerUIBundle({
    url: "/api/v1/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null,
    persistAuthorization: true,
    tryItOutEnabled: false,
    presets: [window.SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    onComplete: function () { document.body.dataset.swagger = "ready"; },
  });
})();
