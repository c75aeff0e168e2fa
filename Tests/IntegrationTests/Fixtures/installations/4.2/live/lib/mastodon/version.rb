# frozen_string_literal: true

module Mastodon
  module Version
    module_function

    def major
      4
    end

    def minor
      2
    end

    def patch
      12
    end
  end
end
