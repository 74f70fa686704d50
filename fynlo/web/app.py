"""The app factory: one Quart-Trio app serving HTTP and the WebSockets."""

from __future__ import annotations

from quart_schema import Info, QuartSchema
from quart_trio import QuartTrio

from fynlo.web import errors
from fynlo.web.context import Services
from fynlo.web.frames import capture_send


def create_app(services: Services) -> QuartTrio:
    app = QuartTrio("fynlo")
    app.config["MAX_CONTENT_LENGTH"] = services.settings.max_frame_bytes
    app.extensions["fynlo"] = services
    QuartSchema(
        app,
        info=Info(title="Fynlo", version="0.1.0", description="Point-of-sale backend: HTTP API"),
        security_schemes={"bearer": {"type": "http", "scheme": "bearer", "bearer_format": "JWT"}},
        redoc_ui_path=None,
        scalar_ui_path=None,
        swagger_ui_path="/docs",
    )
    errors.install(app)
    from fynlo.web import (
        routes_admin, routes_auth, routes_commands, routes_health, routes_payments, routes_ws,
    )

    for module in (routes_health, routes_auth, routes_commands, routes_admin, routes_payments, routes_ws):
        app.register_blueprint(module.bp)
    app.asgi_app = capture_send(app.asgi_app)  # type: ignore[method-assign]
    return app
