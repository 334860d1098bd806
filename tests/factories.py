"""factory_boy factories shared by the tests."""

import factory
from django.contrib.auth.models import Group

from accounts.models import ApiKeySet, KeySetGrant, User

DEFAULT_PASSWORD = "correct horse battery staple"


class UserFactory(factory.django.DjangoModelFactory[User]):
    class Meta:
        model = User
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.PostGenerationMethodCall("set_password", DEFAULT_PASSWORD)


class GroupFactory(factory.django.DjangoModelFactory[Group]):
    class Meta:
        model = Group
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"group{n}")


class KeySetGrantFactory(factory.django.DjangoModelFactory[KeySetGrant]):
    class Meta:
        model = KeySetGrant

    can_view = True
    can_request = False
    can_approve = False


__all__ = ["DEFAULT_PASSWORD", "ApiKeySet", "GroupFactory", "KeySetGrantFactory", "UserFactory"]
