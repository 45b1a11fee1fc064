"""微信绑定 in the console: platform admins are told of disputes and voucher applications too."""
from __future__ import annotations

from web.console.blueprint import console_bp
from web.session import ADMIN_ROLES, requires
from web.wechat_binding import add_binding_routes

add_binding_routes(console_bp, requires(*ADMIN_ROLES))
