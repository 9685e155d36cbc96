"""The typed in-process façades over the kinds a store serves (SessionController, AgentInstanceController)."""
