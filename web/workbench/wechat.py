"""微信绑定 in the workbench (lab staff, institution admins)."""
from __future__ import annotations

from web.session import LAB_ROLES, requires
from web.wechat_binding import add_binding_routes
from web.workbench.blueprint import workbench_bp

add_binding_routes(workbench_bp, requires(*LAB_ROLES))
