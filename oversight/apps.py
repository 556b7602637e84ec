from django.apps import AppConfig


class OversightConfig(AppConfig):
    verbose_name = "比对与处置"
    default_auto_field = "django.db.models.BigAutoField"
    name = "oversight"
