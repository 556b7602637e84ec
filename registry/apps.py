from django.apps import AppConfig

INSTITUTION_PANEL = "registry/panels/institution.html"
REGULATOR_PANEL = "registry/panels/regulator.html"


class RegistryConfig(AppConfig):
    verbose_name = "号码备案"
    default_auto_field = "django.db.models.BigAutoField"
    name = "registry"

    def ready(self) -> None:
        """Dashboard panels and menu entries for the portal shell (portal/dashboard.py)."""
        from portal.dashboard import PANELS, register_menu, register_panel
        from portal.models import OrgKind

        from . import views

        if any(panel.template == INSTITUTION_PANEL for panel in PANELS):
            return  # ready() ran already (test runners may call it twice)
        overseers = (OrgKind.REGULATOR, OrgKind.FINANCIAL_REGULATOR)
        register_panel(kinds=(OrgKind.INSTITUTION,), order=10, template=INSTITUTION_PANEL)(
            views.institution_panel
        )
        register_panel(kinds=overseers, order=10, template=REGULATOR_PANEL)(views.regulator_panel)
        institution = (OrgKind.INSTITUTION,)
        register_menu(
            kinds=institution,
            order=10,
            label="号码登记",
            url_name="registry_number_list",
            icon="telephone",
        )
        register_menu(
            kinds=institution,
            order=20,
            label="合作单位",
            url_name="registry_partner_list",
            icon="briefcase",
        )
        register_menu(
            kinds=institution,
            order=30,
            label="批量导入",
            url_name="registry_import_list",
            icon="cloud-upload",
        )
        register_menu(
            kinds=overseers,
            order=10,
            label="号码库",
            url_name="registry_number_list",
            icon="telephone",
        )
