"""What a caller may read: the catalog as seen through its purposes."""

from factories import auth


def test_when_service_lists_then_it_sees_its_purposes_only(client, keys):
    """The SMS sender sees marketing_push only, and which fields that purpose may use."""
    body = client.get("/v1/datasets", headers=auth(keys["campaign-sms"])).json()

    customers = body["datasets"][0]
    fields = {f["name"]: f for f in customers["fields"]}
    assert [p["name"] for p in body["purposes"]] == ["marketing_push"]
    assert fields["mobile"]["purposes"] == ["marketing_push"]
    assert fields["bank_card"] == {
        "name": "bank_card",
        "category": "financial.bank_card",
        "sensitive": True,
        "purposes": [],
    }
    assert (
        next(t for t in customers["tags"] if t["name"] == "孕期")["sensitive"] is True
    )


def test_when_unauthenticated_then_401(client):
    """The catalog is not public."""
    response = client.get("/v1/datasets")

    assert response.status_code == 401
    assert response.json()["code"] == "unauthenticated"
