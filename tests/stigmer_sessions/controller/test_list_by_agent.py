import pytest

from pipeline.errors import InvalidArgument
from stigmer_sessions import SessionController
from tests.conftest import make_session


def test_list_by_agent_instance_and_org(controller: SessionController) -> None:
    a = controller.create(make_session("a", org="acme", agent="ain-1"))
    controller.create(make_session("b", org="acme", agent="ain-2"))
    c = controller.create(make_session("c", org="beta", agent="ain-1"))
    page = controller.list_by_agent(agent_id="ain-1")
    assert [s.metadata.id for s in page.entries] == [c.metadata.id, a.metadata.id]
    assert page.total_size == 2
    page = controller.list_by_agent(agent_id="ain-1", org="acme")
    assert [s.metadata.id for s in page.entries] == [a.metadata.id]


def test_moving_a_session_to_another_agent_instance_moves_it_in_the_index(
    controller: SessionController,
) -> None:
    a = controller.create(make_session("a", agent="ain-1"))
    request = make_session("a", agent="ain-2")
    request.metadata.id = a.metadata.id
    controller.update(request)
    assert controller.list_by_agent(agent_id="ain-1").total_size == 0
    assert [s.metadata.id for s in controller.list_by_agent(agent_id="ain-2").entries] == [a.metadata.id]


def test_agent_id_is_required(controller: SessionController) -> None:
    with pytest.raises(InvalidArgument) as err:
        controller.list_by_agent(agent_id="")
    assert [v.field for v in err.value.violations] == ["agent_id"]
