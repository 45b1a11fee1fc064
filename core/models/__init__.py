"""Every model module, imported so that Base.metadata knows all tables."""
from core.models.index_change import IndexChange
from core.models.institution import Institution, OnboardingStatus
from core.models.instrument import Instrument
from core.models.service import Service
from core.models.synonym import Synonym
from core.models.unmet_demand import UnmetDemand
from core.models.user import Role, User

__all__ = ["IndexChange", "Institution", "Instrument", "OnboardingStatus", "Role", "Service", "Synonym", "UnmetDemand", "User"]
